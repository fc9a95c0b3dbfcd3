"""One dialect per engine: the rules, with no driver and no I/O."""

from .base import FIELD_TYPES, Dialect
from .mysql import MySQLDialect
from .postgresql import PostgresDialect
from .sqlite import SqliteDialect

__all__ = ["Dialect", "FIELD_TYPES", "SqliteDialect", "PostgresDialect", "MySQLDialect"]
