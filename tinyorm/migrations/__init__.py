"""Migrations: operations, autogenerate, and the runner behind ``tinyorm migrate``."""

from .autogenerate import HISTORY_TABLE, plan_changes, render_migration
from .introspect import generate_models
from .operations import Operations
from .runner import Migration, MigrationRunner, discover

__all__ = [
    "HISTORY_TABLE",
    "Migration",
    "MigrationRunner",
    "Operations",
    "discover",
    "generate_models",
    "plan_changes",
    "render_migration",
]
