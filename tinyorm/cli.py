"""The ``tinyorm`` command: migrations and introspection.

Settings come from flags, then the environment (``TINYORM_DATABASE_URL``,
``TINYORM_MODELS``, ``TINYORM_MIGRATIONS``), then ``[tool.tinyorm]`` in the nearest
``pyproject.toml`` (``database``, ``models``, ``migrations``). Errors are one line on
stderr with a non-zero exit code: 1 for a failed command, 2 for bad usage.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Any, Callable, Iterator, Optional, Tuple

from ._version import __version__
from .backends.url import url_relative_to
from .exceptions import MigrationError, TinyORMError
from .migrations.runner import MigrationRunner, StatusRow

# A database to migrate: (its name as shown, the Database, the filter of tables it holds).
Target = Tuple[str, Any, Optional[Callable[[str], bool]]]


# -- settings ----------------------------------------------------------------------------------
def _read_pyproject(start: str) -> tuple[dict[str, Any], str | None]:
    """([tool.tinyorm] settings, the folder holding that pyproject.toml) or ({}, None)."""
    directory = os.path.abspath(start)
    while True:
        path = os.path.join(directory, "pyproject.toml")
        if os.path.exists(path):
            return _tool_section(path), directory
        parent = os.path.dirname(directory)
        if parent == directory:
            return {}, None
        directory = parent


def _tool_section(path: str) -> dict[str, Any]:
    """The ``[tool.tinyorm]`` table of a pyproject.toml (tomllib, or tomli before 3.11)."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10; tomli is a dependency there
        import tomli as tomllib
    with open(path, "rb") as handle:
        try:
            document = tomllib.load(handle)
        except tomllib.TOMLDecodeError as exc:
            raise TinyORMError(f"{path}: {exc}") from exc
    section = document.get("tool", {}).get("tinyorm", {})
    if not isinstance(section, dict):
        raise TinyORMError(f"{path}: [tool.tinyorm] must be a table")
    return section


class Settings:
    """Flags, then the environment, then [tool.tinyorm]; paths from pyproject.toml are
    relative to the folder that holds it (so the command works from any subfolder)."""

    def __init__(self, args: argparse.Namespace) -> None:
        config, root = _read_pyproject(os.getcwd())
        self.root = root
        self.database = args.database or os.environ.get("TINYORM_DATABASE_URL") or config.get("database")
        self.models = args.models or os.environ.get("TINYORM_MODELS") or config.get("models")
        migrations = args.migrations or os.environ.get("TINYORM_MIGRATIONS")
        if migrations is None and config.get("migrations") and root is not None:
            migrations = os.path.join(root, config["migrations"])
        if migrations is None and root is not None and not (args.models or os.environ.get("TINYORM_MODELS")):
            migrations = os.path.join(root, "migrations") if config else None
        self.migrations = migrations or "migrations"
        self.verbose = args.verbose
        if self.database and root and not args.database and not os.environ.get("TINYORM_DATABASE_URL"):
            # A database file named in pyproject.toml lies beside it, wherever the command runs.
            self.database = url_relative_to(self.database, root)


def load_models(module_name: str, root: str | None = None) -> list[Any]:
    """The concrete models a module defines (base classes of other models are left out)."""
    from .models import Model

    for folder in (root, os.getcwd()):
        if folder and folder not in sys.path:
            sys.path.insert(0, folder)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise TinyORMError(f"cannot import models module {module_name!r}: {exc}") from exc
    declared = getattr(module, "__tinyorm_models__", None)
    if declared is not None:
        return list(declared)
    models = [
        value
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, Model) and value is not Model
    ]
    bases = {base for model in models for base in model.__mro__[1:]}
    return [model for model in models if model not in bases]


def _targets(settings: Settings) -> tuple[list[Target], list[Any]]:
    """[(name, Database, table_filter)] to migrate, from the settings."""
    from .backends.url import connect, mask_url
    from .router import Router

    models = load_models(settings.models, settings.root) if settings.models else []
    value = settings.database
    if value and "://" in value:
        return [(mask_url(value), connect(value), None)], models
    bound = {model._meta.database for model in models if model._meta.database is not None}
    routers = [database for database in bound if isinstance(database, Router)]
    if routers:
        router = routers[0]
        names = [value] if value else [name for name in router.databases if not router.is_replica(name)]
        if value and value not in router.databases:
            raise TinyORMError(f"the router has no database named {value!r}; it has: {', '.join(router.databases)}")
        targets: list[Target] = []
        tables = {model._meta.table_name: model for model in models}
        for name in names:

            def table_filter(table: str, name: str = name) -> bool:
                model = tables.get(table)
                if model is None:
                    return name == "primary"
                return router.allow_migrate(name, model)

            targets.append((name, router.databases[name], table_filter))
        return targets, models
    if value:
        raise TinyORMError(f"--database {mask_url(value)!r} is neither a URL nor a router database name")
    if len(bound) == 1:
        database = bound.pop()
        return [(repr(database), database, None)], models
    raise TinyORMError("no database: pass --database URL, set TINYORM_DATABASE_URL or [tool.tinyorm] database")


def _echo(settings: Settings) -> Callable[[str], None] | None:
    if not settings.verbose:
        return None
    return lambda sql: print(f"  {sql}", file=sys.stderr)


# -- commands --------------------------------------------------------------------------------
def cmd_make(args: argparse.Namespace, settings: Settings) -> int:
    from .migrations.autogenerate import render_migration
    from .migrations.runner import discover, slugify

    if not settings.models and not args.empty:
        raise TinyORMError("migrate make needs the models: pass --models MODULE or set [tool.tinyorm] models")
    targets, models = _targets(settings) if not args.empty or settings.database else ([], [])
    renames = {}
    for item in args.rename or ():
        if ":" not in item or "." not in item.split(":", 1)[0]:
            raise TinyORMError(f"--rename takes table.old:new, not {item!r}")
        old, new = item.split(":", 1)
        renames[old] = new
        table, _, old_column = old.partition(".")
        renames[f"{table}.{new}"] = old_column
    changes, seen = [], set()
    if not args.empty:
        from .migrations.autogenerate import plan_changes

        for name, database, _table_filter in targets:
            pending = _unsettled(MigrationRunner(database, settings.migrations).status())
            if pending:
                raise MigrationError(
                    f"database {name} is not up to date ({', '.join(pending)} not applied); run "
                    "`tinyorm migrate up` first so the new migration starts from the latest schema"
                )

        for _name, database, table_filter in targets:
            chosen = _models_for(models, table_filter)
            for change in plan_changes(database, chosen, _rename_map(renames), args.allow_destructive):
                if change.upgrade not in seen:
                    seen.add(change.upgrade)
                    changes.append(change)
        if not changes:
            print("No changes detected; nothing written.")
            return 0
    existing = discover(settings.migrations)
    number = (existing[-1].number + 1) if existing else 1
    revision = f"{number:04d}_{slugify(args.message)}"
    os.makedirs(settings.migrations, exist_ok=True)
    path = os.path.join(settings.migrations, f"{revision}.py")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(render_migration(args.message, changes, revision))
    _check_written_migration(path)
    destructive = sum(1 for change in changes if change.destructive)
    note = f" ({destructive} DESTRUCTIVE)" if destructive else ""
    print(f"wrote {path}: {len(changes)} operation(s){note}")
    return 0


def _check_written_migration(path: str) -> None:
    """Load the file ``make`` just wrote as ``migrate up`` will; if it does not load, or
    holds anything at top level but its docstring, imports and functions, remove it and fail."""
    import ast

    from .migrations.runner import Migration

    try:
        with open(path, encoding="utf-8") as handle:
            tree = ast.parse(handle.read(), path)
        allowed = (ast.Import, ast.ImportFrom, ast.FunctionDef)
        for node in tree.body[1:] if ast.get_docstring(tree) is not None else tree.body:
            if not isinstance(node, allowed):
                raise MigrationError(f"unexpected top-level code at line {node.lineno}")
        Migration(path).module()
    except Exception as exc:
        os.remove(path)
        raise MigrationError(f"the migration written to {path} does not load, so it was removed: {exc}") from exc


def _unsettled(rows: list[StatusRow]) -> list[str]:
    """Names of the migrations in a status listing that are not simply applied."""
    return [_row_name(row) for row in rows if row[1] != "applied"]


def _row_name(row: StatusRow) -> str:
    """A status row's migration name; for a file that is gone, its note starts with the name."""
    migration, _state, _applied_at, note = row
    return migration.name if migration is not None else str(note).split(" ")[0]


def _models_for(models: list[Any], table_filter: Callable[[str], bool] | None) -> list[Any]:
    return [model for model in models if table_filter is None or table_filter(model._meta.table_name)]


def _rename_map(renames: dict[str, str]) -> dict[str, str]:
    # plan_changes looks renames up as "table.new" -> old column name
    result: dict[str, str] = {}
    for key, value in renames.items():
        table, _, column = key.partition(".")
        if "." not in value:
            result[f"{table}.{value}"] = column
    return result


def _runners(settings: Settings, header: str | None = "[{}]") -> Iterator[tuple[str, MigrationRunner, bool]]:
    """(name, runner, several databases?) per database to migrate; with several, ``header``
    (formatted with the name) is printed before each one's output."""
    targets, _models = _targets(settings)
    for name, database, table_filter in targets:
        if header is not None and len(targets) > 1:
            print(header.format(name))
        yield (
            name,
            MigrationRunner(database, settings.migrations, echo=_echo(settings), table_filter=table_filter, out=print),
            len(targets) > 1,
        )


def cmd_up(args: argparse.Namespace, settings: Settings) -> int:
    for _name, runner, _several in _runners(settings):
        applied = runner.up(args.target)
        if not applied:
            print("nothing to apply: up to date")
    return 0


def cmd_down(args: argparse.Namespace, settings: Settings) -> int:
    for _name, runner, _several in _runners(settings):
        rolled_back = runner.down(args.steps)
        if not rolled_back:
            print("nothing to roll back")
    return 0


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    exit_code = 0
    for _name, runner, _several in _runners(settings):
        rows = runner.status()
        if not rows:
            print(f"no migrations in {settings.migrations}/")
        for row in rows:
            migration, state, applied_at, note = row
            label = _row_name(row)
            when = f"  {applied_at}" if applied_at else ""
            extra = f"  ({note})" if note and migration is not None else ""
            print(f"{state:<9} {label}{when}{extra}")
            if state in ("failed", "partial", "modified", "missing"):
                exit_code = 1
    return exit_code


def cmd_sql(args: argparse.Namespace, settings: Settings) -> int:
    for _name, runner, _several in _runners(settings, header="-- database: {}"):
        for migration, statements in runner.sql(args.target):
            print(f"-- {migration.name}")
            for sql, params in statements:
                print(f"{sql};" if not params else f"{sql}; -- params: {params!r}")
    return 0


def cmd_resolve(args: argparse.Namespace, settings: Settings) -> int:
    if args.applied == args.rolled_back:
        raise TinyORMError("say how it was settled: --applied or --rolled-back")
    for _name, runner, _several in _runners(settings, header=None):
        runner.resolve(args.name, applied=args.applied)
        print(f"{args.name} marked {'applied' if args.applied else 'rolled back'}")
    return 0


def cmd_check_migrations(args: argparse.Namespace, settings: Settings) -> int:
    """Exit 1 when a migration is not applied or the models differ from the migrations."""
    from .migrations.autogenerate import plan_changes

    targets, models = _targets(settings)
    problems = []
    for name, database, table_filter in targets:
        runner = MigrationRunner(database, settings.migrations, table_filter=table_filter)
        where = f" [{name}]" if len(targets) > 1 else ""
        unsettled = [(state, label) for state, label in _states(runner.status()) if state != "applied"]
        for state, label in unsettled:
            print(f"{state:<9} {label}{where}")
        if unsettled:
            problems.append(
                f"{len(unsettled)} migration(s) not applied{where}: {', '.join(label for _s, label in unsettled)}"
            )
            continue  # the schema is behind the files: comparing it with the models says nothing
        if not models:
            continue
        try:
            changes = plan_changes(database, _models_for(models, table_filter), allow_destructive=True)
        except MigrationError as exc:  # an ambiguous rename is a difference too
            print(f"differs   {exc}{where}")
            problems.append(f"the models differ from the migrations{where}")
            continue
        for change in changes:
            print(f"differs   {change.upgrade.splitlines()[0]}{where}")
        if changes:
            problems.append(f"the models differ from the migrations by {len(changes)} operation(s){where}")
    if problems:
        hint = "run `tinyorm migrate up`" if any("not applied" in problem for problem in problems) else ""
        if any("differ" in problem for problem in problems):
            hint = (hint + " and " if hint else "") + "write the missing migration with `tinyorm migrate make`"
        raise MigrationError("; ".join(problems) + f" ({hint})")
    note = "; models match the migrations" if models else " (no --models: model changes not checked)"
    print(f"ok: every migration is applied{note}")
    return 0


def _states(rows: list[StatusRow]) -> Iterator[tuple[str, str]]:
    for row in rows:
        yield row[1], _row_name(row)


def cmd_current(args: argparse.Namespace, settings: Settings) -> int:
    for name, runner, several in _runners(settings, header=None):
        latest, pending = runner.current()
        label = latest.name if latest is not None else "(none applied)"
        if pending:
            label += f" ({pending} pending)"
        elif latest is not None:
            label += " (head)"
        print(f"[{name}] {label}" if several else label)
    return 0


def cmd_history(args: argparse.Namespace, settings: Settings) -> int:
    from .migrations.runner import discover

    migrations = discover(settings.migrations)
    if not migrations:
        print(f"no migrations in {settings.migrations}/")
    for index, migration in enumerate(migrations):
        head = "  (head)" if index == len(migrations) - 1 else ""
        print(f"{migration.name}  {migration.message()}{head}")
    return 0


def cmd_stamp(args: argparse.Namespace, settings: Settings) -> int:
    for _name, runner, _several in _runners(settings):
        stamped, forgotten = runner.stamp(args.target)
        for migration in stamped:
            print(f"stamped {migration} as applied")
        for migration in forgotten:
            print(f"stamped {migration} as not applied")
        if not stamped and not forgotten:
            print("nothing to stamp: the history already says so")
    return 0


def cmd_introspect(args: argparse.Namespace, settings: Settings) -> int:
    from .backends.url import connect
    from .migrations.introspect import generate_models

    url = args.url or settings.database
    if not url or "://" not in url:
        raise TinyORMError("introspect needs a database URL")
    database = connect(url)
    sys.stdout.write(generate_models(database, args.tables or None, url=url))
    return 0


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    from .backends.url import connect

    if not settings.database:
        raise TinyORMError("no database: pass --database URL or set TINYORM_DATABASE_URL")
    database = connect(settings.database)
    database.execute_sql("SELECT 1").fetchall()
    print(f"ok: {database.dialect.name} {database.database}")
    return 0


# -- parser ------------------------------------------------------------------------------------
def _common_options(top_level: bool) -> argparse.ArgumentParser:
    # The options are accepted before or after the command; below the top level they
    # default to SUPPRESS so a subcommand does not reset a value given earlier.
    default = None if top_level else argparse.SUPPRESS
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--database", default=default, help="database URL, or a router's database name (default: $TINYORM_DATABASE_URL)"
    )
    common.add_argument(
        "--models", default=default, help="module defining the models, e.g. myapp.models (default: $TINYORM_MODELS)"
    )
    common.add_argument("--migrations", default=default, help="migrations folder (default: migrations)")
    common.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=False if top_level else argparse.SUPPRESS,
        help="echo every SQL statement",
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _common_options(top_level=False)
    parser = argparse.ArgumentParser(
        prog="tinyorm",
        description="tinyorm: migrations and introspection",
        parents=[_common_options(top_level=True)],
    )
    parser.add_argument("--version", action="version", version=f"tinyorm {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    migrate = commands.add_parser("migrate", help="make, apply and inspect migrations", parents=[common])
    steps = migrate.add_subparsers(dest="migrate_command", metavar="ACTION")
    make = steps.add_parser(
        "make", help="write a migration from the difference between models and database", parents=[common]
    )
    make.add_argument("message", help="what the migration does, e.g. 'add email'")
    make.add_argument("--rename", action="append", metavar="TABLE.OLD:NEW", help="declare a column rename")
    make.add_argument("--allow-destructive", action="store_true", help="write drops and narrowing type changes")
    make.add_argument("--empty", action="store_true", help="write an empty migration to fill in by hand")
    make.set_defaults(handler=cmd_make)
    up = steps.add_parser("up", help="apply pending migrations", parents=[common])
    up.add_argument("target", nargs="?", help="stop after this migration (name or number)")
    up.set_defaults(handler=cmd_up)
    down = steps.add_parser("down", help="roll back applied migrations", parents=[common])
    down.add_argument("steps", nargs="?", type=int, default=1, help="how many (default 1)")
    down.set_defaults(handler=cmd_down)
    status = steps.add_parser("status", help="list migrations and their state", parents=[common])
    status.set_defaults(handler=cmd_status)
    sql = steps.add_parser("sql", help="print the SQL of pending migrations; runs nothing", parents=[common])
    sql.add_argument("target", nargs="?", help="stop after this migration (name or number)")
    sql.set_defaults(handler=cmd_sql)
    resolve = steps.add_parser("resolve", help="settle a failed or partial migration by hand", parents=[common])
    resolve.add_argument("name", help="the failed migration's name")
    resolve.add_argument("--applied", action="store_true", help="its changes are in place: mark it applied")
    resolve.add_argument("--rolled-back", action="store_true", help="its changes were undone: forget it")
    resolve.set_defaults(handler=cmd_resolve)
    check_step = steps.add_parser(
        "check",
        help="exit 1 if a migration is not applied or the models differ from the migrations (for CI)",
        parents=[common],
    )
    check_step.set_defaults(handler=cmd_check_migrations)
    current = steps.add_parser("current", help="print the latest applied migration", parents=[common])
    current.set_defaults(handler=cmd_current)
    history = steps.add_parser("history", help="list the migration files, oldest first", parents=[common])
    history.set_defaults(handler=cmd_history)
    stamp = steps.add_parser(
        "stamp", help="record migrations as applied up to TARGET without running them", parents=[common]
    )
    stamp.add_argument("target", help="a migration name or number, 'head' (all) or 'base' (none)")
    stamp.set_defaults(handler=cmd_stamp)
    migrate.set_defaults(handler=None, subparser=migrate)

    introspect = commands.add_parser(
        "introspect", help="print model classes for an existing database", parents=[common]
    )
    introspect.add_argument("url", nargs="?", help="database URL (default: --database)")
    introspect.add_argument("--tables", nargs="+", metavar="TABLE", help="only these tables")
    introspect.set_defaults(handler=cmd_introspect)

    check = commands.add_parser("check", help="connect to the database and report it", parents=[common])
    check.set_defaults(handler=cmd_check)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        (getattr(args, "subparser", None) or parser).print_help()
        return 0 if args.command is None else 2
    try:
        return handler(args, Settings(args)) or 0
    except (TinyORMError, MigrationError) as exc:
        message = str(exc)
        if not isinstance(exc, MigrationError):
            message = " ".join(message.split())  # one line (PostgreSQL adds DETAIL lines)
        print(f"tinyorm: error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
