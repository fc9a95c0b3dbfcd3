"""Runs the workloads interleaved: for each workload and each round, every implementation
once, in an order that rotates from round to round, so that machine noise and warm caches
fall on all of them alike."""

from __future__ import annotations

import dataclasses
import datetime
import gc
import importlib.metadata
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc

from . import dataset as dataset_module
from . import engines as engines_module
from . import report
from .workloads import MEMORY_TARGET, MEMORY_WORKLOAD, WORKLOADS


@dataclasses.dataclass
class Settings:
    rows: int = 10_000
    repeat: int = 5
    warmup: int = 1  # untimed rounds first (caches, compiled-statement caches, JIT-free warmth)
    gets: int = 1000
    compiles: int = 1000
    gc: bool = True  # leave the cyclic GC on during timed runs, as a program would
    workloads: tuple = tuple(workload.key for workload in WORKLOADS)
    implementations: tuple = (
        "raw", "tinyorm", "tinyorm_routed", "peewee", "sqlalchemy", "dict_cache", "tinyorm_cached", "tinyorm_redis",
    )  # fmt: skip


def implementation_classes(names):
    """The adapter classes, imported on demand so a missing library gets a clear message."""
    from .impl_cache import DictCache, TinyORMCached, TinyORMRedis
    from .impl_raw import RawDriver
    from .impl_tinyorm import TinyORM, TinyORMRouted

    classes = {"raw": RawDriver, "tinyorm": TinyORM, "tinyorm_routed": TinyORMRouted}
    classes.update(dict_cache=DictCache, tinyorm_cached=TinyORMCached, tinyorm_redis=TinyORMRedis)
    try:
        from .impl_peewee import Peewee
        from .impl_sqlalchemy import SQLAlchemyORM
    except ImportError as exc:
        raise SystemExit(f"{exc}: the benchmarks need the 'bench' extra: pip install -e '.[bench]'") from exc
    classes.update(peewee=Peewee, sqlalchemy=SQLAlchemyORM)
    unknown = [name for name in names if name not in classes]
    if unknown:
        raise SystemExit(f"unknown implementation(s): {', '.join(unknown)}; choose from {list(classes)}")
    return [classes[name] for name in names]


def run(settings, engines, progress=print):
    data = dataset_module.generate(settings.rows, gets=settings.gets, compiles=settings.compiles)
    classes = implementation_classes(settings.implementations)
    results = {
        "generated": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "settings": dataclasses.asdict(settings),
        "environment": environment(),
        "engines": {},
    }
    for engine in engines:
        progress(f"{engine.label}: loading {data.n:,} tweets")
        started = time.perf_counter()
        results["engines"][engine.name] = run_engine(engine, classes, data, settings, progress)
        progress(f"{engine.label}: done in {time.perf_counter() - started:.0f} s")
    # Other work on the machine shows up as noise; keep a record of how busy it was.
    results["environment"]["load_average_after"] = os.getloadavg()
    return results


def run_engine(engine, classes, data, settings, progress):
    admin = engines_module.create_schema(engine, data)
    implementations = [cls.open(engine) for cls in classes]
    try:
        workloads = {}
        for workload in WORKLOADS:
            if workload.key not in settings.workloads:
                continue
            taking_part = [impl for impl in implementations if getattr(impl, workload.key)]
            samples = time_workload(workload, taking_part, data, admin, settings)
            summary = workloads[workload.key] = summarise(workload, engine, samples, data)
            progress(f"  {workload.title:30} {report.summary_line(summary)}")
        memory = None
        if MEMORY_WORKLOAD in settings.workloads:
            memory = measure_memory(implementations, data)
    finally:
        for impl in implementations:
            impl.close()
        engines_module.drop_schema(engine, admin)
    return {"label": engine.label, "workloads": workloads, "memory": memory}


def time_workload(workload, implementations, data, admin, settings):
    samples = {impl.name: [] for impl in implementations}
    for round_number in range(settings.warmup + settings.repeat):
        shift = round_number % len(implementations)
        for impl in implementations[shift:] + implementations[:shift]:
            elapsed = run_once(workload, impl, data, admin, settings.gc)
            if round_number >= settings.warmup:
                samples[impl.name].append(elapsed)
    return samples


def run_once(workload, impl, data, admin, gc_enabled=True):
    """Time one call of the workload; check its result outside the timing."""
    cursor = admin.cursor()
    if workload.empties_entries:
        cursor.execute(impl.engine.truncate_sql.format(table=engines_module.ENTRIES))
    before = _probe(cursor, workload.check)
    gc.collect()
    if not gc_enabled:
        gc.disable()
    try:
        started = time.perf_counter()
        result = getattr(impl, workload.key)(data)
        elapsed = time.perf_counter() - started
    finally:
        gc.enable()
    if workload.expected_size and len(result) != workload.expected_size(data):
        raise AssertionError(
            f"{impl.name} {workload.key}: {len(result)} results, expected {workload.expected_size(data)}"
        )
    if workload.check and _probe(cursor, workload.check) - before != workload.check.delta(data):
        raise AssertionError(f"{impl.name} {workload.key}: the database does not show the change")
    if workload.writes:
        for statement in impl.engine.settle_sql:
            cursor.execute(statement)
    return elapsed


def _probe(cursor, check):
    if check is None:
        return 0
    cursor.execute(check.sql)
    return int(cursor.fetchone()[0] or 0)


def summarise(workload, engine, samples, data):
    per_call = workload.per_call(data) if workload.per_call else None
    medians = {
        name: statistics.median(times) * (1e6 / per_call if per_call else 1.0) for name, times in samples.items()
    }
    floor = medians.get(workload.floor)
    return {
        "title": workload.title,
        "unit": "us_per_call" if per_call else "seconds",  # of "median"; samples are seconds
        "calls_per_run": per_call or 1,
        "target": workload.target(engine.name),
        "floor": workload.floor,
        "results": {
            name: {
                "median": median,
                "ratio": median / floor if floor else None,
                "samples": samples[name],
            }
            for name, median in medians.items()
        },
    }


def measure_memory(implementations, data):
    """tracemalloc's peak while loading N objects (and what stays held) per implementation."""
    results = {}
    for impl in implementations:
        if impl.select_objects is None:
            continue
        gc.collect()
        tracemalloc.start()
        held = impl.select_objects(data)
        current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        del held
        results[impl.name] = {"peak_bytes": peak, "held_bytes": current}
    floor = results.get("raw")
    for entry in results.values():
        entry["ratio"] = entry["peak_bytes"] / floor["peak_bytes"] if floor else None
    return {"target": MEMORY_TARGET, "results": results}


DISTRIBUTIONS = {
    "tinyorm": ("tinyorm",),
    "peewee": ("peewee",),
    "sqlalchemy": ("SQLAlchemy",),
    "psycopg2": ("psycopg2-binary", "psycopg2"),
    "pymysql": ("PyMySQL",),
}


def _installed_version(distribution):
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def environment():
    import sqlite3

    versions = {"python": platform.python_version(), "sqlite": sqlite3.sqlite_version}
    # Distribution metadata, not __version__: pymysql's __version__ is a mysqlclient lookalike.
    for key, distributions in DISTRIBUTIONS.items():
        versions[key] = next(filter(None, map(_installed_version, distributions)), None)
    return {
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "versions": versions,
        "tinyorm_revision": _tinyorm_revision(),
        "argv": sys.argv[1:],
        "load_average_before": os.getloadavg(),
    }


def _tinyorm_revision():
    """The checkout's commit, marked "+dirty" when tinyorm/ has uncommitted changes."""
    import tinyorm

    package = os.path.dirname(tinyorm.__file__)

    def git(*args):
        return subprocess.run(["git", *args], cwd=package, capture_output=True, text=True, check=True).stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD")
        return commit + ("+dirty" if git("status", "--porcelain", "--", ".") else "")
    except (OSError, subprocess.CalledProcessError):
        return None
