"""``python -m benchmarks``: run the suite, print the tables, write the JSON."""

from __future__ import annotations

import argparse
import json
import pathlib
import sys

from . import engines, report, runner
from .workloads import WORKLOADS

DEFAULT_OUTPUT = pathlib.Path(__file__).parent / "results" / "latest.json"
SCALING_OUTPUT = DEFAULT_OUTPUT.with_name("scaling.json")
SCALING_PLOT = pathlib.Path(__file__).parent.parent / "docs" / "img" / "scaling.png"
QUICK = {"rows": 1000, "repeat": 3, "gets": 200, "compiles": 200}


def _names(text):
    return tuple(name.strip() for name in text.split(",") if name.strip())


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="tinyorm against the raw DB-API drivers, peewee and SQLAlchemy.",
    )
    parser.add_argument(
        "--engines",
        type=_names,
        default=None,
        help="comma-separated: sqlite,postgresql,mysql (default: every one that answers)",
    )
    parser.add_argument("-n", "--rows", type=int, help="rows per workload (default 10000)")
    parser.add_argument("--repeat", type=int, help="timed runs per implementation (default 5)")
    parser.add_argument("--warmup", type=int, help="untimed runs first (default 1)")
    parser.add_argument("--gets", type=int, help="gets by primary key per run (default 1000)")
    parser.add_argument("--compiles", type=int, help="queries compiled per run (default 1000)")
    parser.add_argument(
        "--no-gc",
        dest="gc",
        action="store_false",
        default=None,
        help="disable the cyclic garbage collector during timed runs",
    )
    parser.add_argument(
        "--quick", action="store_true", help="a small smoke run: " + ", ".join(f"{k}={v}" for k, v in QUICK.items())
    )
    parser.add_argument(
        "--workloads", type=_names, help="comma-separated subset of: " + ",".join(w.key for w in WORKLOADS)
    )
    parser.add_argument(
        "--implementations", type=_names, help="comma-separated subset of: raw,tinyorm,peewee,sqlalchemy"
    )
    parser.add_argument(
        "--scaling",
        action="store_true",
        help="run the scaling runs instead (time per row and peak memory as N grows; see benchmarks/scaling.py)",
    )
    parser.add_argument(
        "--sizes",
        type=lambda text: tuple(int(size.replace("_", "")) for size in _names(text)),
        help="with --scaling: the values of N (default 1000,10000,100000,1000000)",
    )
    parser.add_argument("--markdown", action="store_true", help="also print the tables as Markdown")
    parser.add_argument(
        "--output",
        type=pathlib.Path,
        default=DEFAULT_OUTPUT,
        help="where to write the JSON (default benchmarks/results/latest.json)",
    )
    parser.add_argument(
        "--from-json",
        type=pathlib.Path,
        nargs="+",
        metavar="PATH",
        help="print the tables of a saved run instead of running (with --scaling, several runs of "
        "different engines are merged into one table and plot)",
    )
    return parser.parse_args(argv)


def settings_from(args):
    chosen = {
        key: getattr(args, key)
        for key in ("rows", "repeat", "warmup", "gets", "compiles", "gc", "workloads", "implementations")
        if getattr(args, key) is not None
    }
    if args.quick:
        chosen = {**QUICK, **chosen}
    settings = runner.Settings(**chosen)
    settings.gets = min(settings.gets, settings.rows)
    unknown = set(settings.workloads) - {workload.key for workload in WORKLOADS}
    if unknown:
        raise SystemExit(f"unknown workload(s): {', '.join(sorted(unknown))}")
    if "raw" not in settings.implementations:
        print("note: without the raw driver there are no ratios", file=sys.stderr)
    return settings


def run_scaling(args):
    from . import scaling

    output = args.output if args.output != DEFAULT_OUTPUT else SCALING_OUTPUT
    unknown = set(args.workloads or ()) - set(scaling.WORKLOADS)
    if unknown:
        raise SystemExit(
            f"unknown scaling workload(s): {', '.join(sorted(unknown))}; choose from {list(scaling.WORKLOADS)}"
        )
    if args.from_json:
        results = scaling.merge([json.loads(path.read_text()) for path in args.from_json])
    else:
        results = scaling.run(
            engines.discover(args.engines),
            sizes=args.sizes or scaling.DEFAULT_SIZES,
            repeat=args.repeat or 3,
            workloads=args.workloads or tuple(scaling.WORKLOADS),
            progress=lambda line: print(line, file=sys.stderr, flush=True),
        )
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {output}", file=sys.stderr)
    table = scaling.render_markdown(results)
    output.with_suffix(".md").write_text(table + "\n")
    scaling.plot(results, SCALING_PLOT)
    print(table)
    print(f"wrote {output.with_suffix('.md')} and {SCALING_PLOT}", file=sys.stderr)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.scaling:
        run_scaling(args)
        return
    if args.from_json:
        results = json.loads(args.from_json[0].read_text())
    else:
        settings = settings_from(args)
        results = runner.run(
            settings, engines.discover(args.engines), progress=lambda line: print(line, file=sys.stderr, flush=True)
        )
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {args.output}", file=sys.stderr)
    print(report.render_text(results))
    if args.markdown:
        print()
        print(report.render_markdown(results))


if __name__ == "__main__":
    main()
