"""Applying migrations: discovery, history with checksums, locking, up/down/status/sql.

Each migration runs in a transaction where the engine has transactional DDL (PostgreSQL,
SQLite), so a failure leaves the schema as it was. MySQL/MariaDB commit every DDL statement
implicitly: there a failure is recorded as ``failed`` with the statements that did run, and
``up`` refuses to go on until ``migrate resolve`` says how it was settled. Progress is
recorded after every statement (``partial``, with how many ran), so a run that was killed
leaves a history that tells the truth, and the next ``up`` resumes after the last statement
that ran.

Two processes cannot migrate one database at once: PostgreSQL takes an advisory lock,
MySQL ``GET_LOCK``, SQLite an exclusive transaction around the whole run.
"""

from __future__ import annotations

import datetime
import hashlib
import importlib.util
import logging
import os
import re
import time
from types import ModuleType
from typing import Any, Callable, ContextManager, Optional, Tuple

from ..exceptions import MigrationError
from ..log import migrations_logger as logger
from ..sql import ddl
from ..sql.nodes import Table
from ..sql.query import Delete, Insert, Select, Update
from .autogenerate import HISTORY_TABLE
from .operations import Operations

_HISTORY = Table(HISTORY_TABLE)
# A history row: (checksum, status, applied_at, detail).
HistoryRecord = Tuple[str, str, str, Optional[str]]
# A line of ``status()``: (migration or None if its file is gone, state, applied_at, note).
StatusRow = Tuple[Optional["Migration"], str, Optional[str], Optional[str]]
_FILE_NAME = re.compile(r"^(\d{4,})_([A-Za-z0-9_]+)\.py$")


def one_line(error: object) -> str:
    """An error's message on one line (PostgreSQL adds DETAIL/HINT lines)."""
    return " ".join(str(error).split())


class Migration:
    """One migration file, ``NNNN_slug.py``: its number, name, checksum and (loaded on demand) module."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.filename = os.path.basename(path)
        match = _FILE_NAME.match(self.filename)
        if match is None:
            raise MigrationError(f"{self.filename}: a migration file is named NNNN_name.py")
        self.number = int(match.group(1))
        self.name = self.filename[:-3]
        with open(path, "rb") as handle:
            self.checksum = hashlib.sha256(handle.read()).hexdigest()
        self._module: ModuleType | None = None

    def message(self) -> str:
        """The first line of the file's docstring (what ``migrate make`` was told), read without
        running the file."""
        import ast

        with open(self.path, encoding="utf-8") as handle:
            try:
                docstring = ast.get_docstring(ast.parse(handle.read()))
            except (SyntaxError, ValueError):
                return ""
        return (docstring or "").strip().splitlines()[0] if (docstring or "").strip() else ""

    def module(self) -> ModuleType:
        """The file as a module, loaded once; MigrationError if it does not load or lacks ``upgrade``/``downgrade``."""
        if self._module is None:
            spec = importlib.util.spec_from_file_location(f"tinyorm_migration_{self.name}", self.path)
            if spec is None or spec.loader is None:  # a path that is not a Python file
                raise MigrationError(f"{self.filename}: cannot load as a Python module")
            module = importlib.util.module_from_spec(spec)
            try:
                spec.loader.exec_module(module)
            except Exception as exc:
                raise MigrationError(f"{self.filename}: cannot load: {exc}") from exc
            for function in ("upgrade", "downgrade"):
                if not callable(getattr(module, function, None)):
                    raise MigrationError(f"{self.filename}: defines no {function}(op)")
            self._module = module
        return self._module

    def __repr__(self) -> str:
        return f"<Migration {self.name}>"


def discover(directory: str) -> list[Migration]:
    """The migration files in ``directory``, in order; numbers must be unique."""
    if not os.path.isdir(directory):
        return []
    migrations: list[Migration] = []
    for filename in sorted(os.listdir(directory)):
        if _FILE_NAME.match(filename):
            migrations.append(Migration(os.path.join(directory, filename)))
    numbers: dict[int, str] = {}
    for migration in migrations:
        if migration.number in numbers:
            raise MigrationError(
                f"two migrations share number {migration.number:04d}: {numbers[migration.number]} and {migration.filename}"
            )
        numbers[migration.number] = migration.filename
    return sorted(migrations, key=lambda migration: migration.number)


def slugify(message: str) -> str:
    """``message`` as a file-name part: lower case, runs of other characters as ``_``, at most 50 characters."""
    slug = re.sub(r"[^a-z0-9]+", "_", message.lower()).strip("_")
    return slug[:50] or "migration"


def _statements_ran(detail: str | None) -> int:
    """How many statements a ``partial`` record says ran (its detail starts with the count)."""
    match = re.match(r"(\d+) statement", detail or "")
    return int(match.group(1)) if match else 0


class _Recorder(list[str]):
    """The statements a rehearsal ran (a list; named for what it is used as)."""


class MigrationRunner:
    """Applies the migrations in ``directory`` to one database.

    ``table_filter`` (table name -> bool) limits operations to the tables this database
    should hold (a Router's ``allow_migrate``); ``echo`` receives each SQL statement;
    ``out`` receives the lines a person reads (``applied NAME (N ms)``, warnings): the CLI
    passes ``print``. Every step is also logged to ``tinyorm.migrations``.
    """

    def __init__(
        self,
        database: Any,
        directory: str = "migrations",
        echo: Callable[[str], object] | None = None,
        table_filter: Callable[[str], bool] | None = None,
        out: Callable[[str], object] | None = None,
    ) -> None:
        self.database = database
        self.directory = directory
        self.echo = echo
        self.table_filter = table_filter
        self.out = out

    # -- history ---------------------------------------------------------------------------
    def ensure_history(self) -> None:
        """Create the history table (``tinyorm_migrations``) if it does not exist."""
        columns = [
            ddl.ColumnDefinition("name", "VARCHAR(255)", null=False, primary_key=True),
            ddl.ColumnDefinition("checksum", "VARCHAR(64)", null=False),
            ddl.ColumnDefinition("status", "VARCHAR(16)", null=False),
            ddl.ColumnDefinition("applied_at", "VARCHAR(32)", null=False),
            ddl.ColumnDefinition("duration_ms", "INTEGER"),
            ddl.ColumnDefinition("detail", "TEXT"),
        ]
        statement = ddl.CreateTable(HISTORY_TABLE, columns, safe=True)
        self.database.execute_sql(ddl.ddl_sql(statement, self.database.dialect), ())

    def history(self) -> dict[str, HistoryRecord]:
        """name -> (checksum, status, applied_at, detail) for recorded migrations."""
        if HISTORY_TABLE not in self.database.get_tables():
            return {}
        select = Select(
            [_HISTORY.c[name] for name in ("name", "checksum", "status", "applied_at", "detail")], [_HISTORY]
        )
        rows = self.database.execute_sql(*select.sql(self.database.dialect)).fetchall()
        return {name: (checksum, status, applied_at, detail) for name, checksum, status, applied_at, detail in rows}

    def _record(self, migration: Migration, status: str, duration_ms: float, detail: str | None = None) -> None:
        now = datetime.datetime.now().replace(microsecond=0).isoformat(" ")
        values = {
            "checksum": migration.checksum,
            "status": status,
            "applied_at": now,
            "duration_ms": int(duration_ms),
            "detail": detail,
        }
        # One statement either way: without transactional DDL a kill between a DELETE and an
        # INSERT would lose the record of DDL that stays in effect.
        if self._update_history(migration, values) == 0:
            values = {"name": migration.name, **values}
            insert = Insert(_HISTORY, [_HISTORY.c[name] for name in values], [tuple(values.values())])
            self.database.execute_sql(*insert.sql(self.database.dialect))

    def _progress(self, migration: Migration, count: int, sql: str, started: float) -> None:
        """One UPDATE per statement (never a DELETE and INSERT a kill could separate)."""
        detail = f"{count} statement(s) ran; the last: {one_line(sql)}"[:4000]
        self._update_history(migration, {"detail": detail, "duration_ms": int((time.perf_counter() - started) * 1000)})

    def _update_history(self, migration: Migration, values: dict[str, Any]) -> int:
        """UPDATE ``migration``'s history row with ``values`` (column -> value); the rows it changed."""
        update = Update(_HISTORY, [(_HISTORY.c[name], value) for name, value in values.items()])
        update = update.where(_HISTORY.c.name == migration.name)
        rows: int = self.database.rows_affected(self.database.execute_sql(*update.sql(self.database.dialect)))
        return rows

    def _forget(self, migration: Migration) -> None:
        delete = Delete(_HISTORY).where(_HISTORY.c.name == migration.name)
        self.database.execute_sql(*delete.sql(self.database.dialect))

    # -- locking ---------------------------------------------------------------------------
    def lock(self, timeout: float = 60) -> ContextManager[Any]:
        """Only one process migrates a database at a time (the engine's own lock)."""
        lock: ContextManager[Any] = self.database.migration_lock(timeout)
        return lock

    # -- queries ---------------------------------------------------------------------------
    def migrations(self) -> list[Migration]:
        """The migration files in the folder, in order."""
        return discover(self.directory)

    def status(self) -> list[StatusRow]:
        """[(migration, state, applied_at, note)] with state applied/pending/failed/modified."""
        history = self.history()
        rows: list[StatusRow] = []
        known = set()
        for migration in self.migrations():
            known.add(migration.name)
            record = history.get(migration.name)
            if record is None:
                rows.append((migration, "pending", None, None))
                continue
            checksum, status, applied_at, detail = record
            if status in ("failed", "partial"):
                rows.append((migration, status, applied_at, detail))
            elif checksum != migration.checksum:
                rows.append((migration, "modified", applied_at, "file changed after it was applied"))
            else:
                rows.append((migration, "applied", applied_at, None))
        for name in sorted(set(history) - known):
            rows.append((None, "missing", history[name][2], f"{name} is recorded but its file is gone"))
        return rows

    def _resolve_target(self, migrations: list[Migration], target: str | None) -> int:
        if target is None:
            return len(migrations)
        for index, migration in enumerate(migrations):
            if target in (migration.name, f"{migration.number:04d}", str(migration.number)):
                return index + 1
        raise MigrationError(f"no migration named {target!r}")

    # -- applying --------------------------------------------------------------------------
    def up(self, target: str | None = None) -> list[str]:
        """Apply pending migrations (up to ``target``); returns the names applied."""
        applied: list[str] = []
        with self.lock():
            self.ensure_history()
            history = self.history()
            failed = [name for name, record in history.items() if record[1] == "failed"]
            if failed:
                detail = history[failed[0]][3]
                raise MigrationError(
                    f"migration {failed[0]} failed earlier and was not resolved; fix the schema, then run "
                    f"`tinyorm migrate resolve {failed[0]} --applied` or `--rolled-back`. It reported: {detail}"
                )
            migrations = self.migrations()
            for migration in migrations:
                record = history.get(migration.name)
                if record is not None and record[0] != migration.checksum:
                    self._say(f"warning: {migration.filename} was edited after it was applied", logging.WARNING)
            end = self._resolve_target(migrations, target)
            for migration in migrations[:end]:
                record = history.get(migration.name)
                if record is not None and record[1] == "partial":
                    # The lock is ours, so the run that left it partial is gone (killed).
                    if record[0] != migration.checksum:
                        raise MigrationError(
                            f"{migration.filename} was partly applied ({record[3]}) and has been edited "
                            f"since, so it cannot be resumed: settle it by hand with `tinyorm migrate resolve "
                            f"{migration.name} --applied` or `--rolled-back`"
                        )
                    self._apply(migration, "upgrade", resume_after=_statements_ran(record[3]))
                    applied.append(migration.name)
                    continue
                if record is not None:
                    continue
                self._apply(migration, "upgrade")
                applied.append(migration.name)
        return applied

    def down(self, steps: int = 1) -> list[str]:
        """Roll back the last ``steps`` applied migrations; returns the names rolled back."""
        rolled_back: list[str] = []
        with self.lock():
            self.ensure_history()
            history = self.history()
            applied = [m for m in self.migrations() if history.get(m.name, (None, None))[1] == "applied"]
            for migration in list(reversed(applied))[: max(0, steps)]:
                self._apply(migration, "downgrade")
                rolled_back.append(migration.name)
        return rolled_back

    def _say(self, line: str, level: int = logging.INFO) -> None:
        logger.log(level, "%s", line)
        if self.out is not None:
            self.out(line)

    def _apply(self, migration: Migration, direction: str, resume_after: int = 0) -> None:
        database = self.database
        module = migration.module()
        logger.info("%s %s on %r", "applying" if direction == "upgrade" else "rolling back", migration.name, database)
        op = Operations(database, echo=self.echo, table_filter=self.table_filter)
        started = time.perf_counter()
        transactional = database.dialect.transactional_ddl
        if not transactional and direction == "upgrade":
            # Each DDL statement commits: record progress as it goes, so a kill -9 leaves a
            # history saying how far the migration got and the next `up` resumes there.
            if resume_after:
                self._say(f"resuming {migration.name} after the {resume_after} statement(s) an earlier run applied")
                op.skip = resume_after
            else:
                self._record(migration, "partial", 0, "0 statement(s) ran")
            op.on_executed = lambda count, sql: self._progress(migration, count, sql, started)
        try:
            if transactional:
                with database.atomic():
                    getattr(module, direction)(op)
                    self._finish(migration, direction, started)
            else:
                getattr(module, direction)(op)
                self._finish(migration, direction, started)
        except Exception as exc:
            logger.error("%s %s failed: %s", migration.name, direction, one_line(exc))
            if transactional:
                raise MigrationError(
                    f"{migration.filename} {direction} failed and was rolled back; the schema is as it "
                    f"was: {one_line(exc)}"
                ) from exc
            ran = op.executed
            detail = (
                f"{direction} failed after {len(ran)} statement(s) ran: "
                + " | ".join(ran)
                + f" -- error: {one_line(exc)}"
            )
            self._record(migration, "failed", (time.perf_counter() - started) * 1000, detail[:4000])
            listing = "\n".join(f"  ran: {sql}" for sql in ran) or "  (no statement had run)"
            raise MigrationError(
                f"{migration.filename} {direction} failed on {database.dialect.name}, which cannot roll "
                f"back DDL. Statements that ran and stay in effect:\n{listing}\n  failed with: {one_line(exc)}\n"
                f"The migration is marked failed; `migrate up` refuses to continue until you fix the schema "
                f"and run `tinyorm migrate resolve {migration.name} --applied` or `--rolled-back`."
            ) from exc
        elapsed = (time.perf_counter() - started) * 1000
        verb = "applied" if direction == "upgrade" else "rolled back"
        self._say(f"{verb} {migration.name} ({elapsed:.0f} ms)")

    def _finish(self, migration: Migration, direction: str, started: float) -> None:
        if direction == "upgrade":
            self._record(migration, "applied", (time.perf_counter() - started) * 1000)
        else:
            self._forget(migration)

    def resolve(self, name: str, applied: bool) -> None:
        """Settle a failed migration by hand: mark it applied, or forget it (rolled back)."""
        self.ensure_history()
        history = self.history()
        if history.get(name, (None, None))[1] not in ("failed", "partial"):
            raise MigrationError(f"{name} is not marked failed or partial")
        migration = next((m for m in self.migrations() if m.name == name), None)
        if migration is None:
            raise MigrationError(f"no migration file for {name}")
        if applied:
            self._record(migration, "applied", 0, "resolved by hand")
        else:
            self._forget(migration)
        logger.info("%s resolved by hand as %s", name, "applied" if applied else "rolled back")

    def current(self) -> tuple[Migration | None, int]:
        """The latest applied migration, in file order (None if none is), and how many are pending."""
        latest: Migration | None = None
        pending = 0
        for migration, state, _applied_at, _note in self.status():
            if migration is None:
                continue
            if state in ("applied", "modified"):
                latest, pending = migration, 0
            elif state == "pending":
                pending += 1
        return latest, pending

    def stamp(self, target: str) -> tuple[list[str], list[str]]:
        """Record the migrations up to ``target`` as applied without running them, and forget
        the ones after it (as Alembic's ``stamp`` and Django's ``migrate --fake``).

        ``target`` is a migration's name or number, ``head`` (all of them) or ``base`` (none).
        For a database whose schema was made some other way. Returns (stamped, forgotten).
        """
        stamped: list[str] = []
        forgotten: list[str] = []
        with self.lock():
            self.ensure_history()
            history = self.history()
            migrations = self.migrations()
            if target == "head":
                end = len(migrations)
            elif target == "base":
                end = 0
            else:
                end = self._resolve_target(migrations, target)
            for migration in migrations[:end]:
                record = history.get(migration.name)
                if record is None or record[1] != "applied" or record[0] != migration.checksum:
                    self._record(migration, "applied", 0, "stamped")
                    stamped.append(migration.name)
            for migration in migrations[end:]:
                if migration.name in history:
                    self._forget(migration)
                    forgotten.append(migration.name)
        for name in stamped:
            logger.info("stamped %s as applied (not run)", name)
        for name in forgotten:
            logger.info("stamped %s as not applied (not run)", name)
        return stamped, forgotten

    def sql(self, target: str | None = None) -> list[tuple[Migration, list[tuple[str, Any]]]]:
        """The SQL that ``up`` would run, per pending migration: [(migration, [sql])].

        Nothing is changed. On SQLite, whose table rebuilds read the schema that earlier
        statements made, the statements run inside a transaction that is rolled back.
        """
        history = self.history()
        migrations = self.migrations()
        end = self._resolve_target(migrations, target)
        pending = [migration for migration in migrations[:end] if migration.name not in history]
        if self.database.dialect.rebuilds_tables:
            return self._sql_by_rehearsal(pending)
        known_types: dict[Any, Any] = {}
        result: list[tuple[Migration, list[tuple[str, Any]]]] = []
        for migration in pending:
            op = Operations(self.database, mode="sql", table_filter=self.table_filter, known_types=known_types)
            migration.module().upgrade(op)
            result.append((migration, op.collected))
        return result

    def _sql_by_rehearsal(self, pending: list[Migration]) -> list[tuple[Migration, list[tuple[str, Any]]]]:
        database = self.database
        result: list[tuple[Migration, list[tuple[str, Any]]]] = []
        with database.foreign_keys_suspended():
            database.begin()
            try:
                for migration in pending:
                    op = Operations(database, table_filter=self.table_filter)
                    op.executed = _Recorder()
                    migration.module().upgrade(op)
                    result.append((migration, [(sql, None) for sql in op.executed]))
            finally:
                database.rollback()
        return result
