"""Pooled databases: the core Database classes with a pool switched on by default.

Pooling itself lives in ``tinyorm.Database`` (``max_connections``, ``stale_timeout``,
``pool_timeout``; also from a URL's query string). These classes only change the default,
for code written against peewee's ``playhouse.pool`` names.
"""

from tinyorm import MySQLDatabase, PostgresDatabase, SqliteDatabase

from . import _guard  # noqa: F401 - refuses to load beside peewee's playhouse (see _guard)


class _Pooled:
    def __init__(self, database, max_connections=20, stale_timeout=300, **kwargs):
        super().__init__(database, max_connections=max_connections, stale_timeout=stale_timeout, **kwargs)


class PooledSqliteDatabase(_Pooled, SqliteDatabase):
    """``SqliteDatabase`` with a pool on by default (``max_connections=20``, ``stale_timeout=300``)."""

    pass


class PooledPostgresDatabase(_Pooled, PostgresDatabase):
    """``PostgresDatabase`` with a pool on by default (``max_connections=20``, ``stale_timeout=300``)."""

    pass


class PooledMySQLDatabase(_Pooled, MySQLDatabase):
    """``MySQLDatabase`` with a pool on by default (``max_connections=20``, ``stale_timeout=300``)."""

    pass


__all__ = ["PooledSqliteDatabase", "PooledPostgresDatabase", "PooledMySQLDatabase"]
