"""From a live schema back to fields: type mapping, and model source for ``tinyorm introspect``."""

from __future__ import annotations

import builtins
import keyword
import math
import re
import unicodedata
from typing import Any, Collection, Sequence

from .. import fields as F
from ..sql.nodes import SQL

_SPACES = re.compile(r"\s+")


def canonical_type(dialect: Any, type_text: str | None) -> str:
    """A comparable spelling of a column type, whichever way the engine reports it.

    ``varchar(50)``, ``VARCHAR(50)`` and ``character varying(50)`` are one type; so are
    ``int(11)`` and ``INTEGER``, ``SERIAL`` and ``integer``, ``DECIMAL_TEXT(10, 2)`` and
    ``numeric(10,2)``: each engine's spellings are its dialect's
    ``introspected_type_spellings``. Used to tell whether a model's column differs from the
    database's.
    """
    text = _SPACES.sub(" ", (type_text or "").strip().lower())
    text = re.sub(r"\s*\(\s*", "(", text)
    text = re.sub(r"\s*,\s*", ",", text)
    text = re.sub(r"\s*\)", ")", text)
    text = text.replace(" unsigned", "")
    for pattern, replacement in dialect.introspected_type_spellings:
        text = pattern.sub(replacement, text)
    uuid_type = dialect.column_types.get("UUID", "")
    if text != "uuid" and uuid_type and text == uuid_type.lower():
        text = "uuid"  # the type this engine stores tinyorm's UUIDs in (MySQL: CHAR(36))
    return text


_QUOTED = re.compile(r"^\(*'((?:[^']|'')*)'\)*(::[\w\s]+(\[\])?)?$", re.S)
_NUMBER = re.compile(r"^\(*(-?\d+(\.\d+)?)\)*(::[\w\s]+)?$")


def parse_default(text: Any) -> tuple[Any, str | None]:
    """A column default as the database reports it -> (python literal, None) or
    (None, raw SQL) for an expression such as CURRENT_TIMESTAMP; (None, None) if none."""
    if text is None:
        return None, None
    text = str(text).strip()
    if not text or text.upper() in ("NULL", "NULL::TEXT") or text.upper().startswith("NULL::"):
        return None, None
    match = _QUOTED.match(text)
    if match:
        return match.group(1).replace("''", "'"), None
    match = _NUMBER.match(text)
    if match:
        number = match.group(1)
        return (float(number) if "." in number else int(number)), None
    if text.lower() in ("true", "false"):
        return text.lower() == "true", None
    return None, text


def model_column_type(field: Any, dialect: Any) -> str:
    return canonical_type(dialect, field.cast_type(dialect) if field.auto_increment else field.ddl_type(dialect))


_WIDENINGS = {
    ("smallint", "integer"),
    ("smallint", "bigint"),
    ("integer", "bigint"),
    ("double", "double"),
}


def is_narrowing(old: str, new: str) -> bool:
    """Could changing a column from type ``old`` to ``new`` lose or refuse existing data?"""
    if old == new:
        return False
    if (old, new) in _WIDENINGS:
        return False
    size = re.compile(r"^(varchar|char)\((\d+)\)$")
    old_match, new_match = size.match(old), size.match(new)
    if old_match and new_text(new):
        return False
    if old_match and new_match and old_match.group(1) == new_match.group(1):
        return int(new_match.group(2)) < int(old_match.group(2))
    decimal = re.compile(r"^decimal\((\d+),(\d+)\)$")
    old_decimal, new_decimal = decimal.match(old), decimal.match(new)
    if old_decimal and new_decimal:
        old_p, old_s = map(int, old_decimal.groups())
        new_p, new_s = map(int, new_decimal.groups())
        return new_s < old_s or (new_p - new_s) < (old_p - old_s)
    return True


def new_text(type_name: str) -> bool:
    return type_name == "text"


def field_for_column(dialect: Any, column: Any) -> tuple[type[F.Field[Any]], dict[str, Any]]:
    """(Field class, keyword arguments) for an introspected column."""
    text = canonical_type(dialect, column.data_type)
    kwargs: dict[str, Any] = {}
    default = column.default
    auto = False
    if column.primary_key:
        if dialect.integer_primary_key_is_auto and text == "integer":
            auto = True
        elif isinstance(default, str) and dialect.is_auto_increment_default(default):
            auto = True
    if auto:
        return (F.BigAutoField if text == "bigint" else F.AutoField), {}
    field_class: type[F.Field[Any]]
    match = re.match(r"^(varchar|char)\((\d+)\)$", text)
    if match:
        field_class = F.CharField
        kwargs["max_length"] = int(match.group(2))
    elif text.startswith("decimal"):
        field_class = F.DecimalField
        numbers = re.findall(r"\d+", text)
        if len(numbers) == 2:
            kwargs["max_digits"], kwargs["decimal_places"] = int(numbers[0]), int(numbers[1])
    else:
        field_class = {
            "integer": F.IntegerField,
            "bigint": F.BigIntegerField,
            "smallint": F.SmallIntegerField,
            "double": F.FloatField,
            "text": F.TextField,
            "varchar": F.TextField,
            "boolean": F.BooleanField,
            "timestamp": F.DateTimeField,
            "date": F.DateField,
            "time": F.TimeField,
            "uuid": F.UUIDField,
            "blob": F.BlobField,
            "json": F.JSONField,
        }.get(text, F.TextField)
    if column.null:
        kwargs["null"] = True
    if column.primary_key:
        kwargs["primary_key"] = True
    literal, expression = parse_default(default)
    if literal is not None:
        if field_class is F.BooleanField and isinstance(literal, (int, str)):
            literal = str(literal).lower() in ("1", "true", "t")
        kwargs["default"] = literal
    elif expression is not None and not dialect.is_auto_increment_default(expression):
        kwargs["server_default"] = SQL(expression)
    return field_class, kwargs


def source_literal(value: Any, prefix: str = "") -> str:
    """Python source for ``value``: ``repr()``, except for floats with no literal (nan, inf)
    and ``SQL`` fragments, written ``{prefix}SQL(...)``."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"float({str(value)!r})"
    if isinstance(value, SQL):
        return prefix + repr(value)
    return repr(value)


def field_source(field_class: type, kwargs: dict[str, Any], prefix: str = "") -> str:
    arguments = ", ".join(f"{key}={source_literal(value, prefix)}" for key, value in kwargs.items())
    return f"{prefix}{field_class.__name__}({arguments})"


# -- model source ---------------------------------------------------------------------------------
def _ascii(name: str) -> str:
    """``name`` in ASCII letters: accents dropped (``ä`` -> ``a``), other characters go.
    (Python folds non-ASCII identifiers by NFKC, so two distinct columns could meet.)"""
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")


def _model_attributes() -> set[str]:
    """Names a generated field must not take: every attribute of a model class."""
    from ..models import Model

    return {name for name in dir(Model) if not name.startswith("_")} | {"DoesNotExist", "Meta"}


def _snake(name: str, reserved: Collection[str] = frozenset()) -> str:
    name = _ascii(name)
    name = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name)
    name = re.sub(r"(?<=[A-Z])([A-Z][a-z])", r"_\1", name)
    name = re.sub(r"[^0-9A-Za-z]+", "_", name).strip("_").lower() or "column"
    if name[0].isdigit():
        name = f"c_{name}"
    if keyword.iskeyword(name) or keyword.issoftkeyword(name) or name in reserved:
        name += "_"
    return name


def _class_name(table: str) -> str:
    parts = re.split(r"[^0-9a-zA-Z]+", _ascii(table))
    name = "".join(part[:1].upper() + part[1:] for part in parts if part) or "Table"
    if name[0].isdigit():
        name = f"T{name}"
    return name


# Module-level names of a generated module (and Python's builtins): no class takes them.
_MODULE_NAMES = {"os", "tinyorm", "database", "BaseModel"} | set(dir(builtins))


def _unique(name: str, used: set[str]) -> str:
    """``name``, or ``name_2``, ``name_3``... the first not in ``used`` (then added to it)."""
    candidate, number = name, 1
    while candidate in used or keyword.iskeyword(candidate):
        number += 1
        candidate = f"{name}_{number}"
    used.add(candidate)
    return candidate


def _database_line(url: str | None) -> str:
    """The module's ``database = ...`` line. The URL is read from TINYORM_DATABASE_URL, as the
    ``tinyorm`` command reads it; the URL given is the fallback only when it holds no secret,
    so a password never lands in a generated file."""
    from ..backends.url import mask_url

    if not url:
        return "database = None  # set to your Database"
    masked = mask_url(url)
    if masked != url:
        return (
            'database = tinyorm.connect(os.environ["TINYORM_DATABASE_URL"])'
            f"  # introspected from {masked!r}; the password is not written here"
        )
    return f'database = tinyorm.connect(os.environ.get("TINYORM_DATABASE_URL", {url!r}))'


def generate_models(database: Any, tables: Sequence[str] | None = None, url: str | None = None) -> str:
    """Python source of model classes that map ``database``'s tables as they are."""
    dialect = database.dialect
    all_tables = [table for table in database.get_tables() if not table.startswith("tinyorm_migrations")]
    if tables:
        missing = [table for table in tables if table not in all_tables]
        if missing:
            from ..exceptions import MigrationError

            raise MigrationError(f"no such table(s): {', '.join(missing)}")
        all_tables = list(tables)
    info: dict[str, dict[str, Any]] = {}
    for table in all_tables:
        info[table] = {
            "columns": database.get_columns(table),
            "indexes": database.get_indexes(table),
            "foreign_keys": database.get_foreign_keys(table),
        }
    # Parents first, so a ForeignKeyField can name its model class directly.
    ordered: list[str] = []
    seen: set[str] = set()

    def visit(table: str, stack: tuple[str, ...] = ()) -> None:
        if table in seen:
            return
        seen.add(table)
        for fk in info[table]["foreign_keys"]:
            if fk.dest_table in info and fk.dest_table != table and fk.dest_table not in stack:
                visit(fk.dest_table, stack + (table,))
        ordered.append(table)

    for table in all_tables:
        visit(table)
    # (table, column) -> its field's name, for ``field=`` of a foreign key
    field_name_of: dict[tuple[str, str], str] = {}
    # Every table its own class, every column its own attribute: names are made unique, and
    # tinyorm is imported as a namespace so that no class (a table "char_field") or field
    # (a column "save") shadows a tinyorm name or a model method.
    used_classes = set(_MODULE_NAMES)
    class_names = {table: _unique(_class_name(table), used_classes) for table in ordered}
    reserved = _model_attributes()
    lines = [
        '"""Models generated by `tinyorm introspect`."""',
        "import os",
        "",
        "import tinyorm",
        "",
        _database_line(url),
        "",
        "",
        "class BaseModel(tinyorm.Model):",
        "    class Meta:",
        "        database = database",
        "",
    ]
    attributes: dict[str, set[str]] = {}  # table -> names its class uses (fields, foreign key ids, backrefs)
    for table in ordered:
        columns = info[table]["columns"]
        fks = {fk.column: fk for fk in info[table]["foreign_keys"]}
        indexes = info[table]["indexes"]
        single_unique = {index.columns[0] for index in indexes if index.unique and len(index.columns) == 1}
        single_index = {index.columns[0] for index in indexes if not index.unique and len(index.columns) == 1}
        primary = [column.name for column in columns if column.primary_key]
        lines += ["", f"class {class_names[table]}(BaseModel):"]
        used = attributes.setdefault(table, set()) | reserved
        field_names = {}
        body = []
        for column in columns:
            name = _snake(column.name, reserved)
            fk = fks.get(column.name)
            if fk is not None and name.endswith("_id") and len(name) > 3:
                name = name[:-3]
            # A foreign key also takes ``<name>_id`` on the class.
            while name in used or name in attributes[table] or (fk is not None and f"{name}_id" in used):
                name += "_"
            used.add(name)
            attributes[table].add(name)
            field_names[column.name] = name
            field_class, kwargs = field_for_column(dialect, column)
            if len(primary) > 1:
                kwargs.pop("primary_key", None)
            if column.name in single_unique:
                kwargs["unique"] = True
            elif column.name in single_index and fk is None:
                kwargs["index"] = True
            if fk is not None and fk.dest_table in class_names:
                used.add(f"{name}_id")
                target = class_names[fk.dest_table] if fk.dest_table != table else '"self"'
                backref = f"{_snake(table)}_set"
                if sum(1 for other in fks.values() if other.dest_table == fk.dest_table) > 1:
                    backref = f"{_snake(table)}_{name}_set"
                # The backref lands on the target class: unique among its names too.
                target_names = attributes.setdefault(fk.dest_table, set())
                while backref in target_names or backref in reserved:
                    backref += "_"
                target_names.add(backref)
                arguments = [target, f"backref={backref!r}", f"column_name={column.name!r}"]
                dest_pk = [c.name for c in info[fk.dest_table]["columns"] if c.primary_key]
                if dest_pk != [fk.dest_column]:
                    dest_field = _snake(fk.dest_column, reserved)
                    arguments.append(f"field={field_name_of.get((fk.dest_table, fk.dest_column), dest_field)!r}")
                if column.null:
                    arguments.append("null=True")
                if fk.on_delete and fk.on_delete not in ("NO ACTION", "RESTRICT"):
                    arguments.append(f"on_delete={fk.on_delete!r}")
                if column.primary_key and len(primary) == 1:
                    arguments.append("primary_key=True")
                body.append(f"    {name} = tinyorm.ForeignKeyField({', '.join(arguments)})")
                continue
            if name != column.name:
                kwargs["column_name"] = column.name
            body.append(f"    {name} = {field_source(field_class, kwargs, prefix='tinyorm.')}")
        for column_name, name in field_names.items():
            field_name_of[(table, column_name)] = name
        lines += body
        lines += ["", "    class Meta:", f"        table_name = {table!r}"]
        if len(primary) > 1:
            names = ", ".join(repr(field_names[name]) for name in primary)
            lines.append(f"        primary_key = tinyorm.CompositeKey({names})")
        elif not primary:
            lines.append("        primary_key = False")
        composite = [
            (tuple(field_names.get(column, column) for column in index.columns), index.unique)
            for index in indexes
            if len(index.columns) > 1 and index.columns != primary
        ]
        if composite:
            lines.append(f"        indexes = {tuple(composite)!r}")
        lines.append("")
    return "\n".join(lines) + "\n"
