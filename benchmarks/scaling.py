"""Scaling runs: how time per row and peak memory grow with N, for reading and loading.

``python -m benchmarks --scaling [--sizes 1000,10000,100000,1000000]``. For each engine and
each N (ascending) a table of N rows is loaded (untimed, by the raw driver), then:

- **select**: every row at once -- the raw driver's ``fetchall()``, tinyorm's ``list(select())``;
- **iterator**: every row streamed -- the raw driver through a server-side cursor (a named
  cursor on PostgreSQL, ``SSCursor`` on MySQL/MariaDB, SQLite's own cursor), tinyorm's
  ``select().iterator()``; nothing is kept;
- **bulk load**: N rows into an empty table in one transaction -- the raw driver's fastest
  batch form (``execute_values`` on psycopg2, ``executemany`` elsewhere), tinyorm's
  ``insert_many`` and ``copy_from``.

Timings are interleaved as in the main suite (the implementations take turns, the starting
one rotating); the figure is the median, divided by N. Peak memory is tracemalloc's, from
one more (untimed) run per implementation, the input rows excluded (they exist before). The
results go to ``results/scaling.json``, a Markdown table and a PNG plot.
"""

from __future__ import annotations

import datetime
import gc
import io
import json
import os
import statistics
import time
import tracemalloc

import tinyorm

from . import engines as engines_module

TABLE = "bench_scale"
LOAD_TABLE = "bench_scale_load"
DEFAULT_SIZES = (1_000, 10_000, 100_000, 1_000_000)
ITERATOR_CHUNK = 2000
WORKLOADS = {
    "select": ("select all rows", ("raw", "tinyorm")),
    "iterator": ("stream all rows (iterator)", ("raw", "tinyorm")),
    "bulk_load": ("bulk load", ("raw", "tinyorm_insert_many", "tinyorm_copy_from")),
}
LABELS = {
    "raw": "raw driver",
    "tinyorm": "tinyorm",
    "tinyorm_insert_many": "tinyorm insert_many",
    "tinyorm_copy_from": "tinyorm copy_from",
}


class Row(tinyorm.Model):
    name = tinyorm.CharField(max_length=50)
    email = tinyorm.CharField(max_length=100)
    age = tinyorm.IntegerField()

    class Meta:
        table_name = TABLE


class LoadRow(tinyorm.Model):
    name = tinyorm.CharField(max_length=50)
    email = tinyorm.CharField(max_length=100)
    age = tinyorm.IntegerField()

    class Meta:
        table_name = LOAD_TABLE


def rows_for(n):
    tuples = [(f"user{i:07d}", f"user{i:07d}@example.com", 20 + i % 50) for i in range(n)]
    dicts = [{"name": name, "email": email, "age": age} for name, email, age in tuples]
    return tuples, dicts


class Scaling:
    """One engine: the raw connection, tinyorm's database, and the workloads."""

    def __init__(self, engine):
        self.engine = engine
        self.admin = engine.connect_raw(autocommit=True)
        self.raw = engine.connect_raw()
        self.db = tinyorm.connect(engine.url)
        Row.bind(self.db)
        LoadRow.bind(self.db)
        mark = engine.placeholder
        self.insert_sql = f"INSERT INTO {LOAD_TABLE} (name, email, age) VALUES ({mark}, {mark}, {mark})"
        cursor = self.admin.cursor()
        for statement in engine.setup_sql:
            cursor.execute(statement)
        person = "name VARCHAR(50) NOT NULL, email VARCHAR(100) NOT NULL, age INTEGER NOT NULL"
        for table in (TABLE, LOAD_TABLE):
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
            cursor.execute(f"CREATE TABLE {table} (id {engine.auto_pk}, {person}){engine.table_suffix}")

    def close(self):
        cursor = self.admin.cursor()
        for table in (TABLE, LOAD_TABLE):
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
        self.db.close_all()
        self.raw.close()
        self.admin.close()

    def fill(self, tuples):
        """Untimed: the read table holds exactly these rows."""
        cursor = self.admin.cursor()
        cursor.execute(self.engine.truncate_sql.format(table=TABLE))
        if self.engine.name == "postgresql":
            text = "".join(f"{name}\t{email}\t{age}\n" for name, email, age in tuples)
            cursor.copy_expert(f"COPY {TABLE} (name, email, age) FROM STDIN", io.StringIO(text))
        else:
            cursor.execute("BEGIN")
            for start in range(0, len(tuples), 10_000):
                cursor.executemany(self.insert_sql.replace(LOAD_TABLE, TABLE), tuples[start : start + 10_000])
            cursor.execute("COMMIT")
        self.settle()

    def settle(self):
        # The main suite's settle statements name its own tables; the same, for these.
        cursor = self.admin.cursor()
        for statement in self.engine.settle_sql:
            for table in engines_module.USERS, engines_module.TWEETS, engines_module.ENTRIES:
                statement = statement.replace(table, TABLE)
            cursor.execute(statement)

    def reset_load_table(self):
        self.admin.cursor().execute(self.engine.truncate_sql.format(table=LOAD_TABLE))
        self.settle()

    # -- the workloads: each returns how many rows it handled --------------------------------
    def select_raw(self, data):
        cursor = self.raw.cursor()
        cursor.execute(f"SELECT id, name, email, age FROM {TABLE}")
        rows = cursor.fetchall()
        self.raw.commit()
        return rows

    def select_tinyorm(self, data):
        return list(Row.select())

    def iterator_raw(self, data):
        name = self.engine.name
        if name == "postgresql":
            cursor = self.raw.cursor(name="bench_stream")
            cursor.itersize = ITERATOR_CHUNK
        elif name == "mysql":
            import pymysql.cursors

            cursor = self.raw.cursor(pymysql.cursors.SSCursor)
        else:
            cursor = self.raw.cursor()
        cursor.execute(f"SELECT id, name, email, age FROM {TABLE}")
        count = 0
        while True:
            rows = cursor.fetchmany(ITERATOR_CHUNK)
            if not rows:
                break
            count += len(rows)
        cursor.close()
        self.raw.commit()
        return count

    def iterator_tinyorm(self, data):
        count = 0
        for _row in Row.select().iterator(chunk_size=ITERATOR_CHUNK):
            count += 1
        return count

    def bulk_load_raw(self, data):
        tuples, _dicts = data
        cursor = self.raw.cursor()
        if self.engine.name == "postgresql":
            from psycopg2.extras import execute_values

            execute_values(cursor, f"INSERT INTO {LOAD_TABLE} (name, email, age) VALUES %s", tuples, page_size=1000)
        else:
            cursor.executemany(self.insert_sql, tuples)
        self.raw.commit()
        return len(tuples)

    def bulk_load_tinyorm_insert_many(self, data):
        with self.db.atomic():
            return LoadRow.insert_many(data[1]).execute()

    def bulk_load_tinyorm_copy_from(self, data):
        return LoadRow.copy_from(data[1])


def _call(scaling, workload, implementation, data):
    return getattr(scaling, f"{workload}_{implementation}")(data)


def _count(result):
    return result if isinstance(result, int) else len(result)


def measure(scaling, workload, implementations, data, n, repeat, progress, warmup=True):
    samples = {impl: [] for impl in implementations}
    for round_number in range(0 if warmup else 1, repeat + 1):  # round 0 warms up, untimed
        shift = round_number % len(implementations)
        for impl in implementations[shift:] + implementations[:shift]:
            if workload == "bulk_load":
                scaling.reset_load_table()
            gc.collect()
            started = time.perf_counter()
            result = _call(scaling, workload, impl, data)
            elapsed = time.perf_counter() - started
            if _count(result) != n:
                raise AssertionError(f"{impl} {workload}: {_count(result)} rows, expected {n}")
            del result
            if round_number:
                samples[impl].append(elapsed)
    peaks = {}
    for impl in implementations:
        if workload == "bulk_load":
            scaling.reset_load_table()
        gc.collect()
        tracemalloc.start()
        try:
            result = _call(scaling, workload, impl, data)
            peaks[impl] = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        del result
    if workload == "bulk_load":
        scaling.reset_load_table()
    figures = {}
    for impl in implementations:
        median = statistics.median(samples[impl])
        figures[impl] = {"seconds": median, "us_per_row": median / n * 1e6, "peak_bytes": peaks[impl]}
    raw = figures.get("raw")
    for entry in figures.values():
        entry["ratio"] = entry["seconds"] / raw["seconds"] if raw else None
        entry["memory_ratio"] = entry["peak_bytes"] / raw["peak_bytes"] if raw and raw["peak_bytes"] else None
    progress(
        f"  N={n:>9,} {WORKLOADS[workload][0]:28} "
        + "  ".join(f"{LABELS[impl]} {entry['us_per_row']:.2f} µs/row {entry['peak_bytes'] / 1e6:.1f} MB"
                    for impl, entry in figures.items())
    )  # fmt: skip
    return figures


def run(engines, sizes=DEFAULT_SIZES, repeat=3, workloads=tuple(WORKLOADS), progress=print):
    results = {
        "generated": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "settings": {"sizes": list(sizes), "repeat": repeat, "iterator_chunk": ITERATOR_CHUNK},
        "load_average_before": os.getloadavg(),
        "engines": {},
    }
    for engine in engines:
        scaling = Scaling(engine)
        per_size = {}
        try:
            for n in sorted(sizes):
                data = rows_for(n)
                progress(f"{engine.label}: N={n:,}")
                scaling.fill(data[0])
                # A million rows take a while on a loaded machine: one timed round and no
                # warm-up round suffice there (a long run's per-row figure is steady, and the
                # smaller sizes before it have warmed every code path and cache).
                large = n >= 1_000_000
                rounds = 1 if large else repeat
                per_size[n] = {
                    workload: measure(
                        scaling, workload, WORKLOADS[workload][1], data, n, rounds, progress, warmup=not large
                    )
                    for workload in workloads
                }
                del data
        finally:
            scaling.close()
        results["engines"][engine.name] = {"label": engine.label, "sizes": per_size}
    results["load_average_after"] = os.getloadavg()
    return json.loads(json.dumps(results))  # sizes become strings, as they will in the file


def merge(runs):
    """One result from runs of different engines (run side by side to save time): each
    engine's figures as measured; the earliest start, the highest load averages."""
    if len(runs) == 1:
        return runs[0]
    merged = dict(runs[0], engines={})
    merged["generated"] = min(run["generated"] for run in runs)
    for key in ("load_average_before", "load_average_after"):
        merged[key] = [max(run[key][index] for run in runs) for index in range(3)]
    merged["settings"] = dict(runs[0]["settings"], sizes=sorted({n for run in runs for n in run["settings"]["sizes"]}))
    merged["parallel_runs"] = len(runs)
    for run in runs:
        merged["engines"].update(run["engines"])
    return merged


def render_markdown(results):
    settings = results["settings"]
    million = " (one at N=1,000,000)" if max(settings["sizes"]) >= 1_000_000 else ""
    lines = [
        f"Scaling run of {results['generated']}: median of {settings['repeat']} interleaved runs{million}; "
        f"load average {results['load_average_before'][0]:.1f} before, "
        f"{results['load_average_after'][0]:.1f} after, on {os.cpu_count()} CPUs"
        + (
            f", the engines run side by side ({results['parallel_runs']} processes)"
            if results.get("parallel_runs")
            else ""
        )
        + ". "
        "Time per row in µs (ratio to the raw driver); peak memory by tracemalloc.",
        "",
    ]
    for engine in results["engines"].values():
        lines += [f"**{engine['label']}**", ""]
        lines += ["| workload | implementation | " + " | ".join(f"N={int(n):,}" for n in engine["sizes"]) + " |"]
        lines += ["|---|---|" + "---:|" * len(engine["sizes"])]
        first = next(iter(engine["sizes"].values()))
        for workload, figures in first.items():
            for impl in figures:
                cells = []
                for per_workload in engine["sizes"].values():
                    if workload not in per_workload:  # not measured at this N
                        cells.append("—")
                        continue
                    entry = per_workload[workload][impl]
                    ratio = f" ({entry['ratio']:.2f}×)" if impl != "raw" and entry["ratio"] else ""
                    cells.append(f"{entry['us_per_row']:.2f} µs{ratio}, {entry['peak_bytes'] / 1e6:.1f} MB")
                lines.append(f"| {WORKLOADS[workload][0]} | {LABELS[impl]} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def plot(results, path):
    """Time per row and peak memory against N: one column per workload, one line per
    engine and implementation."""
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    workloads = [
        key for key in WORKLOADS if any(key in next(iter(e["sizes"].values())) for e in results["engines"].values())
    ]
    figure, axes = plt.subplots(2, len(workloads), figsize=(5.2 * len(workloads), 8.5), squeeze=False)
    colours = {"sqlite": "tab:blue", "postgresql": "tab:orange", "mysql": "tab:green"}
    styles = {"raw": ":", "tinyorm": "-", "tinyorm_insert_many": "--", "tinyorm_copy_from": "-"}
    markers = {"raw": "o", "tinyorm": "s", "tinyorm_insert_many": "^", "tinyorm_copy_from": "D"}
    for column, workload in enumerate(workloads):
        top, bottom = axes[0][column], axes[1][column]
        for engine_name, engine in results["engines"].items():
            sizes = [int(n) for n in engine["sizes"]]
            for impl in WORKLOADS[workload][1]:
                # A workload may be missing at some N (a run stopped before it finished).
                measured = [n for n in sizes if workload in engine["sizes"][str(n)]]
                entries = [engine["sizes"][str(n)][workload][impl] for n in measured]
                style = dict(color=colours.get(engine_name), linestyle=styles[impl], marker=markers[impl])
                label = f"{engine['label']}, {LABELS[impl]}"
                top.plot(measured, [e["us_per_row"] for e in entries], label=label, **style)
                bottom.plot(measured, [e["peak_bytes"] / 1e6 for e in entries], label=label, **style)
        top.set_title(WORKLOADS[workload][0])
        top.set_ylabel("µs per row")
        bottom.set_ylabel("peak memory (MB, tracemalloc)")
        for ax in (top, bottom):
            ax.set_xscale("log")
            ax.set_xlabel("rows (N)")
            ax.grid(True, which="both", alpha=0.3)
        bottom.set_yscale("log")
        plain = matplotlib.ticker.FuncFormatter(lambda value, _pos: f"{value:g}")
        bottom.yaxis.set_major_formatter(plain)
        bottom.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        top.set_ylim(bottom=0)
        bottom.legend(fontsize=7, loc="upper left")
    figure.suptitle(
        f"tinyorm scaling, {results['generated'][:16]} UTC "
        f"(load average {results['load_average_before'][0]:.1f} on {os.cpu_count()} CPUs)"
    )
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
