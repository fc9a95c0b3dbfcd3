"""Turns a results dict (as written to JSON) into tables: plain text or Markdown."""

from __future__ import annotations

IMPLEMENTATION_LABELS = {
    "raw": "raw driver",
    "tinyorm": "tinyorm",
    "tinyorm_routed": "tinyorm, routed",
    "peewee": "peewee",
    "sqlalchemy": "SQLAlchemy",
    "dict_cache": "dict lookup",
    "tinyorm_cached": "tinyorm, cached (memory)",
    "tinyorm_redis": "tinyorm, cached (Redis)",
}
RIVALS = ("peewee", "sqlalchemy")


def format_seconds(seconds):
    if seconds >= 1:
        return f"{seconds:.2f} s"
    milliseconds = seconds * 1000
    decimals = 2 if milliseconds < 10 else 1 if milliseconds < 100 else 0
    return f"{milliseconds:.{decimals}f} ms"


def format_bytes(count):
    return f"{count / 1e6:.2f} MB" if count >= 1e5 else f"{count / 1e3:.1f} kB"


def format_ratio(ratio):
    return f"{ratio:.2f}×" if ratio < 10 else f"{ratio:.1f}×"


def _cell(entry, unit):
    if entry is None:
        return "—"
    if unit == "us_per_call":
        text = f"{entry['median']:.2f} µs" if entry["median"] < 10 else f"{entry['median']:.1f} µs"
        return text if entry.get("ratio") is None else f"{text} ({format_ratio(entry['ratio'])})"
    text = format_seconds(entry["median"])
    return text if entry["ratio"] is None else f"{text} ({format_ratio(entry['ratio'])})"


def summary_line(workload):
    """One workload's figures on one line, for progress output."""
    return "  ".join(
        f"{IMPLEMENTATION_LABELS[name]} {_cell(entry, workload['unit'])}" for name, entry in workload["results"].items()
    )


def _implementations(engine_results):
    seen = []
    for workload in engine_results["workloads"].values():
        seen += [name for name in workload["results"] if name not in seen]
    return [name for name in IMPLEMENTATION_LABELS if name in seen]


def engine_table(engine_results):
    """Headers and rows: one row per workload (plus memory), one column per implementation."""
    names = _implementations(engine_results)
    headers = ["workload"] + [IMPLEMENTATION_LABELS[name] for name in names]
    rows = []
    for workload in engine_results["workloads"].values():
        results = workload["results"]
        title = workload["title"]
        floor = workload.get("floor", "raw")
        if floor != "raw":  # this row's ratios are not to the raw driver
            title += f" (ratios to {IMPLEMENTATION_LABELS[floor]})"
        rows.append([title] + [_cell(results.get(name), workload["unit"]) for name in names])
    memory = engine_results.get("memory")
    if memory:
        cells = []
        for name in names:
            entry = memory["results"].get(name)
            cells.append(
                "—" if entry is None else f"{format_bytes(entry['peak_bytes'])} ({format_ratio(entry['ratio'])})"
            )
        rows.append(["memory, N objects (peak)"] + cells)
    return headers, rows, "l" + "r" * len(names)


def _tinyorm_figure(entry, unit):
    return entry["median"] if unit == "us_per_call" else entry["ratio"]


def _verdict(value, target):
    if target is None:
        return "—"
    return "met" if value <= target else f"missed by {value / target - 1:.0%}"


def _ahead(figures, tinyorm_value, unit):
    """Whether tinyorm beats each rival, with the closest rival's figure."""
    rivals = {name: value for name, value in figures.items() if name in RIVALS}
    if not rivals:
        return "—"
    best_name = min(rivals, key=rivals.get)
    shown = f"{rivals[best_name]:.1f} µs" if unit == "us_per_call" else format_ratio(rivals[best_name])
    mark = "yes" if tinyorm_value < rivals[best_name] else "NO"
    return f"{mark} (best rival {IMPLEMENTATION_LABELS[best_name]} {shown})"


def targets_table(results):
    """tinyorm's figure on each workload and engine against the issue's targets."""
    headers = ["engine", "workload", "tinyorm", "target", "verdict", "ahead of peewee and SQLAlchemy"]
    rows = []
    for engine_results in results["engines"].values():
        label = engine_results["label"]
        for workload in engine_results["workloads"].values():
            entries, unit = workload["results"], workload["unit"]
            if "tinyorm" not in entries:
                continue
            figures = {name: _tinyorm_figure(entry, unit) for name, entry in entries.items()}
            value, target = figures["tinyorm"], workload["target"]
            shown = f"{value:.1f} µs" if unit == "us_per_call" else format_ratio(value)
            target_text = "—" if target is None else (f"≤ {target:g} µs" if unit == "us_per_call" else f"≤ {target:g}×")
            rows.append(
                [label, workload["title"], shown, target_text, _verdict(value, target), _ahead(figures, value, unit)]
            )
        memory = engine_results.get("memory")
        if memory and "tinyorm" in memory["results"] and "raw" in memory["results"]:
            entries = {name: entry["ratio"] for name, entry in memory["results"].items()}
            ratio = entries["tinyorm"]
            rows.append(
                [
                    label,
                    "memory, N objects (peak)",
                    format_ratio(ratio),
                    f"≤ {memory['target']:g}×",
                    _verdict(ratio, memory["target"]),
                    _ahead(entries, ratio, "ratio"),
                ]
            )
    return headers, rows, "llrrll"


def _settings_line(results):
    settings, environment = results["settings"], results["environment"]
    versions = dict(environment["versions"])
    if environment.get("tinyorm_revision"):
        versions["tinyorm"] += f" ({environment['tinyorm_revision']})"
    libraries = ", ".join(
        f"{name} {versions[name]}" for name in ("tinyorm", "peewee", "sqlalchemy") if versions.get(name)
    )
    return (
        f"N={settings['rows']:,}, median of {settings['repeat']} interleaved runs "
        f"({settings['gets']:,} gets, {settings['compiles']:,} compiles per run, "
        f"GC {'on' if settings.get('gc', True) else 'off'}); "
        f"Python {versions['python']}, {libraries}; {results['generated']}"
    )


def render_text(results):
    parts = [_settings_line(results), ""]
    for engine_results in results["engines"].values():
        parts += [
            f"{engine_results['label']} — median time (ratio to the raw driver)",
            _text_table(*engine_table(engine_results)),
            "",
        ]
    parts += ["tinyorm against the targets", _text_table(*targets_table(results))]
    return "\n".join(parts)


def render_markdown(results):
    parts = [_settings_line(results) + ".", ""]
    for engine_results in results["engines"].values():
        parts += [
            f"**{engine_results['label']}** — median time (ratio to the raw driver)",
            "",
            _markdown_table(*engine_table(engine_results)),
            "",
        ]
    parts += ["**tinyorm against the targets**", "", _markdown_table(*targets_table(results))]
    return "\n".join(parts)


def _text_table(headers, rows, align):
    """Columns padded to width; ``align`` has an "l" or "r" per column."""
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]

    def line(cells):
        return "  ".join(
            cell.ljust(width) if side == "l" else cell.rjust(width) for cell, width, side in zip(cells, widths, align)
        ).rstrip()

    return "\n".join([line(headers), line(["-" * width for width in widths])] + [line(row) for row in rows])


def _markdown_table(headers, rows, align):
    rule = "|" + "|".join("---" if side == "l" else "---:" for side in align) + "|"
    lines = ["| " + " | ".join(headers) + " |", rule]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
