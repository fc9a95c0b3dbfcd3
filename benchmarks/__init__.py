"""Benchmarks: tinyorm against the raw DB-API drivers, peewee and SQLAlchemy.

Run with ``python -m benchmarks`` (or ``make bench``); ``python -m benchmarks --help`` lists
the options and ``benchmarks/README.md`` explains what each workload measures and why each
library is driven the way it is.
"""
