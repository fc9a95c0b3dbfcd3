"""Databases: one per engine, each owning its driver, connections and introspection."""

from .base import Atomic, ColumnMetadata, Database, ForeignKeyMetadata, IndexMetadata
from .mysql import MySQLDatabase
from .postgresql import PostgresDatabase
from .proxy import DatabaseProxy
from .sqlite import SqliteDatabase
from .url import connect, mask_url, parse_url

__all__ = [
    "Atomic",
    "ColumnMetadata",
    "Database",
    "DatabaseProxy",
    "ForeignKeyMetadata",
    "IndexMetadata",
    "MySQLDatabase",
    "PostgresDatabase",
    "SqliteDatabase",
    "connect",
    "mask_url",
    "parse_url",
]
