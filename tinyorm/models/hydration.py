"""Hydration: turning driver rows into model instances, dicts or converted tuples.

Row constructors are generated Python (``generate_function``, the one place that runs
``exec``) once per query shape and engine, and cached in bounded caches: per model on its
metadata, and for converted tuples (``.tuples()``, ``.dicts()``) one module-wide cache keyed by
the converters. Keys are the shape (fields, models, labels, converters, engine), never a
query or expression object, so rebuilding the same query per request reuses one entry: a
plain select over one model gets a loop that unpacks each row into locals and stores them in
the instance's slots (conversions inlined only for the columns that need one); a select over
several joined models gets one that builds every model's instance per row and links them as
the joins say. An instance is filled as its model's loader class (``Metadata.loader``: the
same slots, C-level assignment with no change tracking), then handed its model's class.
Keep per-row work inside the generated loops: no calls per row that the generated source
could avoid.
"""

from __future__ import annotations

import collections
import functools
import keyword
import operator
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence, cast

from ..bounded import BoundedCache
from ..exceptions import DataError
from ..fields import Field
from ..sql.json import JsonPath, JsonText
from ..sql.nodes import Alias
from ..sql.query import SelectBase
from .aliases import FieldAlias, ModelAlias, _column_owner, _model_of
from .model import _replace_state, _set_attribute

if TYPE_CHECKING:
    from ..dialects.base import Dialect
    from .model import Model
    from .select import ModelSelect

Row = Sequence[Any]
Converter = Callable[[Any], Any]
# A generated row constructor: driver rows in, instances (or converted tuples) out.
RowsFunction = Callable[[Sequence[Row]], list[Any]]

# Row converters for tuples and dicts, by the tuple of per-column converters (functions the
# dialects and fields own, so equal shapes give equal keys).
ROW_CONVERTERS: BoundedCache[Any, RowsFunction] = BoundedCache(256)

# What a freshly loaded instance's ORM state slots hold (see Model.__slots__); _extra is
# set by _stores.
_LOADED_STATE = ("_persisted = True", "_changes = None", "_session = None", "_rel = None")
# ... and a new one's (Model.__init__); _extra is set when the instance is made, and a
# subclass's __init__ may have put attributes there before calling Model.__init__.
_NEW_STATE = ("_persisted = False", "_changes = None", "_session = None", "_rel = None")


def generate_function(name: str, source: str, namespace: dict[str, Any]) -> Any:
    """Compile ``source`` (which defines ``name``) and return the function.

    Every generated row constructor comes from here. The source is built only from
    identifiers and ``repr()`` of names tinyorm owns (attribute keys, labels); values reach
    the function through ``namespace``, never through the text.
    """
    exec(source, namespace)  # noqa: S102 - generated from names we own
    return namespace[name]


def _stores(target: str, model: type[Model], values: Sequence[tuple[str, str]]) -> list[str]:
    """Generated source filling the new instance ``target`` of ``model`` (still of its
    loader class): ``(attribute, expression)`` pairs go to their slots, the others (labels
    of expressions, names of unrelated joined models) into ``_extra``; then the ORM state."""
    slots = model._meta.slots
    lines = []
    extra = []
    for attribute, expression in values:
        if attribute in slots and attribute.isidentifier() and not keyword.iskeyword(attribute):
            lines.append(f"{target}.{attribute} = {expression}")
        else:
            extra.append(f"{attribute!r}: {expression}")
    lines += [f"{target}.{state}" for state in _LOADED_STATE]
    lines.append(f"{target}._extra = {{{', '.join(extra)}}}" if extra else f"{target}._extra = None")
    return lines


def _hydrator_for(model: type[Model], fields: tuple[Field[Any], ...], dialect: Dialect) -> RowsFunction:
    """A function turning row tuples into instances of ``model`` (generated once per shape).

    Conversions are inlined only for the columns that need one; plain integers and strings
    are copied straight from the row.
    """
    meta = model._meta
    key = (fields, dialect)
    hydrate: RowsFunction | None = meta._hydrators.get(key)
    if hydrate is not None:
        return hydrate
    namespace: dict[str, Any] = {"new": object.__new__, "cls": model, "loader": meta.loader}
    names = [f"v{index}" for index in range(len(fields))]
    converters = [field.python_converter(dialect) for field in fields]
    stores = _stores(
        "o",
        model,
        [
            (field.attr_key, _read_expr(f"v{index}", index, converters[index], namespace))
            for index, field in enumerate(fields)
        ],
    )
    unpack = ", ".join(names) + ("," if len(names) == 1 else "")
    key_index = next((index for index, field in enumerate(fields) if field.primary_key), None)
    namespace["bad_value"] = functools.partial(_raise_bad_value, fields, converters, key_index)
    # The try costs nothing per row (3.11+); a value a converter refuses is reported by
    # field and row key instead of surfacing as the converter's own exception.
    source = (
        "def hydrate(rows):\n"
        "    out = []\n"
        "    append = out.append\n"
        "    try:\n"
        f"        for {unpack} in rows:\n"
        "            o = new(loader)\n"
        + "".join(f"            {line}\n" for line in stores)
        + "            o.__class__ = cls\n"
        "            append(o)\n"
        "    except Exception as exc:\n"
        f"        bad_value(exc, [{', '.join(f'locals().get({name!r})' for name in names)}])\n"
        "    return out\n"
    )
    generated: RowsFunction = generate_function("hydrate", source, namespace)
    meta._hydrators[key] = generated
    return generated


def instance_from_values(model: type[Model], values: Iterable[tuple[str, Any]]) -> Any:
    """A loaded instance of ``model`` holding ``values`` (attribute, value pairs) as is:
    what rows of an unusual shape are built with."""
    obj = object.__new__(model)
    _replace_state(obj, {"_persisted": True, **dict(values)})
    return obj


def initializer_for(model: type[Model]) -> Callable[[Any, dict[str, Any]], None]:
    """``initialize(obj, values)``: what ``Model(**values)`` does to the new instance (still
    of the loader class), generated once per model: the ORM state, then each field from
    ``values`` or its default, then an error for any name that is not a field."""
    meta = model._meta
    initialize: Callable[[Any, dict[str, Any]], None] | None = meta.initializer
    if initialize is not None:
        return initialize
    namespace: dict[str, Any] = {"set_attribute": _set_attribute, "unexpected": _unexpected_fields}
    lines = [f"self.{state}" for state in _NEW_STATE]
    lines.append("pop = values.pop")
    callable_defaults = set(meta.callable_defaults)
    for index, (name, field) in enumerate(meta.fields.items()):
        key = field.attr_key
        if key in meta.static_defaults:
            namespace[f"d{index}"] = meta.static_defaults[key]
            value = f"pop({key!r}, d{index})"
        elif field in callable_defaults:
            namespace[f"f{index}"] = field
            value = f"pop({key!r}) if {key!r} in values else f{index}.get_default()"
        else:  # left unset: the server fills the column (INSERTs omit it)
            value = None
        if key in meta.slots and key.isidentifier() and not keyword.iskeyword(key):
            store = f"self.{key} = value"
        else:
            store = f"set_attribute(self, {key!r}, value)"
        if value is None:
            lines += [f"if {key!r} in values:", f"    value = pop({key!r})", f"    {store}"]
        else:
            lines += [f"value = {value}", store]
        if name != key:  # a foreign key also takes the related object by its own name
            namespace[f"F{index}"] = field
            lines += [f"if {name!r} in values:", f"    self._set_related_object(F{index}, pop({name!r}), False)"]
    lines += ["if values:", "    unexpected(self, values)"]
    source = "def initialize(self, values):\n" + "".join(f"    {line}\n" for line in lines)
    generated: Callable[[Any, dict[str, Any]], None] = generate_function("initialize", source, namespace)
    meta.initializer = generated
    return generated


def _unexpected_fields(obj: Any, values: dict[str, Any]) -> None:
    raise TypeError(f"{type(obj)._meta.model.__name__}() got an unexpected field {next(iter(values))!r}")


def _tuple_converter(
    converters: Sequence[Converter | None], columns: Sequence[Any] | None = None
) -> RowsFunction | None:
    """A function converting rows to tuples, or None when no column needs converting."""
    if not any(converters):
        return None
    # Keyed by what the generated code depends on: the converters, and the column names and
    # key column its error messages report.
    key_index = None
    for index, column in enumerate(columns or ()):
        if getattr(getattr(column, "field", column), "primary_key", False) is True:
            key_index = index
            break
    key = (tuple(converters), tuple(_column_name(columns, index) for index in range(len(converters))), key_index)
    convert = ROW_CONVERTERS.get(key)
    if convert is not None:
        return convert
    if all(converter is None or hasattr(converter, "exact_class") for converter in converters):
        convert = ROW_CONVERTERS[key] = _class_checker(converters, columns)
        return convert
    namespace: dict[str, Any] = {}
    items = [_read_expr(f"r[{index}]", index, converter, namespace) for index, converter in enumerate(converters)]
    namespace["bad_rows"] = functools.partial(_raise_bad_rows, columns, converters, key_index)
    source = (
        "def convert(rows):\n"
        "    try:\n"
        f"        return [({', '.join(items)},) for r in rows]\n"
        "    except Exception as exc:\n"
        "        bad_rows(exc, rows)\n"
    )
    generated: RowsFunction = generate_function("convert", source, namespace)
    ROW_CONVERTERS[key] = generated
    return generated


def _class_checker(converters: Sequence[Converter | None], columns: Sequence[Any] | None) -> RowsFunction:
    """Rows whose columns need only a class check: one C-level pass per checked column
    (no tuple is rebuilt), converting row by row only when some value is of another class."""
    # Converters reaching here carry an ``exact_class`` (see _tuple_converter).
    checks = [
        (operator.itemgetter(index), cast(Any, converter).exact_class, {cast(Any, converter).exact_class, type(None)})
        for index, converter in enumerate(converters)
        if converter is not None
    ]
    slow: RowsFunction | None = None

    def all_of_class(getter: Callable[[Row], Any], klass: type, allowed: set[type], rows: Sequence[Row]) -> bool:
        if klass is int:
            # sum() adds machine integers in C, twice as fast as collecting the types: an
            # int result means every value was an int (a float makes it a float; None,
            # text or bytes raise, and are looked at more closely below).
            try:
                return sum(map(getter, rows)).__class__ is int
            except TypeError:
                pass
        return allowed.issuperset(map(type, map(getter, rows)))

    def convert(rows: Sequence[Row]) -> list[Any]:
        nonlocal slow
        for getter, klass, allowed in checks:
            if not all_of_class(getter, klass, allowed, rows):
                if slow is None:
                    slow = _tuple_converter([_plain(converter) for converter in converters], columns)
                    assert slow is not None  # some column has a converter, or no check failed
                return slow(rows)
        return list(rows) if not rows or type(rows[0]) is tuple else [tuple(row) for row in rows]

    return convert


def _plain(converter: Converter | None) -> Converter | None:
    """The converter without its ``exact_class`` (so ``_tuple_converter`` calls it)."""
    if converter is None:
        return None
    return lambda value: converter(value)


def _read_expr(name: str, index: int, converter: Converter | None, namespace: dict[str, Any]) -> str:
    """Generated source reading one column value ``name`` through its converter, if any.

    A converter with an ``exact_class`` only checks what an engine may hand back wrongly
    (SQLite's INTEGER column holding text another client wrote): the value passes through
    when it is of that class, with no call, and the converter sees the rest (None too).
    """
    if converter is None:
        return name
    namespace[f"c{index}"] = converter
    exact = getattr(converter, "exact_class", None)
    if exact is not None:
        namespace[f"k{index}"] = exact
        return f"({name} if {name}.__class__ is k{index} else c{index}({name}))"
    return f"(None if {name} is None else c{index}({name}))"


def _raise_bad_value(
    columns: Sequence[Any] | None,
    converters: Sequence[Converter | None],
    key_index: int | None,
    exc: Exception,
    values: Sequence[Any],
) -> None:
    """Re-raise a converter's failure on one row as DataError naming the column and row key."""
    for index, (converter, value) in enumerate(zip(converters, values)):
        if converter is None or value is None:
            continue
        try:
            converter(value)
        except Exception as error:  # noqa: BLE001 - any converter failure is reported the same way
            name = _column_name(columns, index)
            key = "" if key_index is None else f" in the row with key {values[key_index]!r}"
            raise DataError(
                f"{name}: the database holds {value!r}{key}, which is not a valid value for the field ({error})"
            ) from exc
    raise exc


def _raise_bad_rows(
    columns: Sequence[Any] | None,
    converters: Sequence[Converter | None],
    key_index: int | None,
    exc: Exception,
    rows: Iterable[Row],
) -> None:
    for row in rows:
        try:
            for converter, value in zip(converters, row):
                if converter is not None and value is not None:
                    converter(value)
        except Exception:  # noqa: BLE001
            _raise_bad_value(columns, converters, key_index, exc, row)
    raise exc


def _column_name(columns: Sequence[Any] | None, index: int) -> str:
    column = columns[index] if columns is not None else None
    field = getattr(column, "field", column)
    if isinstance(field, Field):
        return str(field.qualified_name)
    return f"column {index + 1} of the result"


def _column_label(column: Any, index: int, description: Sequence[Sequence[Any]] | None) -> str:
    if isinstance(column, (Field, FieldAlias)):
        return str(column.name)
    if isinstance(column, SelectBase) and column._alias:
        return str(column._alias)
    if isinstance(column, Alias):
        return str(column.name)
    if isinstance(column, (JsonPath, JsonText)):
        return str(cast(Any, column).name)  # JsonText borrows JsonPath's property
    if description is not None:
        return str(description[index][0])
    return f"column{index}"


class _RowShape:
    """How the selected columns map onto objects: computed once per query shape."""

    __slots__ = ("columns", "owners", "converters", "labels")

    def __init__(self, columns: Sequence[Any], dialect: Dialect, description: Sequence[Sequence[Any]] | None) -> None:
        self.columns = columns
        self.owners = [_column_owner(column) for column in columns]
        self.converters = [
            field.python_converter(dialect) if field is not None else _result_converter(column, dialect)
            for column, (_source, field) in zip(columns, self.owners)
        ]
        self.labels = [_column_label(column, index, description) for index, column in enumerate(columns)]


def _result_converter(column: Any, dialect: Dialect) -> Converter | None:
    """How an expression's value is decoded, where it says (a JSON path does)."""
    if isinstance(column, Alias):
        column = column.node
    converter = getattr(column, "result_converter", None)
    return converter(dialect) if converter is not None else None


def _convert_rows(
    rows: Sequence[Row], converters: Sequence[Converter | None], columns: Sequence[Any] | None = None
) -> Sequence[Row]:
    convert = _tuple_converter(converters, columns)
    return convert(rows) if convert is not None else rows


def _flat_objects(model: type[Model], shape: _RowShape, rows: Iterable[Row]) -> list[Any]:
    keys = []
    for (source, field), label in zip(shape.owners, shape.labels):
        keys.append(
            field.attr_key if (field is not None and source is not None and _model_of(source) is model) else label
        )
    return [instance_from_values(model, zip(keys, row)) for row in rows]


def graph_hydrator(query: ModelSelect[Any], shape: _RowShape, dialect: Dialect) -> RowsFunction:
    """A generated row constructor for a select over several models.

    Each row builds the queried model's instance plus one instance per joined model,
    linked as the joins say: ``tweet.user`` for a foreign key, ``tweet._rel`` back to
    the parent for a backref join, an attribute named after an unrelated model. A
    joined instance whose columns are all NULL (an outer join that matched nothing)
    becomes None. Generated once per query shape, like plain selects' constructors.
    """
    primary = query.model
    join_rels = query._join_rels
    cacheable = not isinstance(primary, ModelAlias) and not any(
        isinstance(source, ModelAlias) for source, _field in shape.owners
    )
    meta = _model_of(primary)._meta
    # The shape, not the query: a column is its owner and field, or (for an expression) its
    # label and converter; two queries built alike share an entry whatever objects they hold.
    key = (
        "graph",
        primary,
        tuple(
            (source, field, None if field is not None else label, converter)
            for (source, field), label, converter in zip(shape.owners, shape.labels, shape.converters)
        ),
        frozenset((source, rel[0], rel[1], rel[2]) for source, rel in join_rels.items()),
        dialect,
    )
    if cacheable:
        cached: RowsFunction | None = meta._hydrators.get(key)
        if cached is not None:
            return cached
    per_source: collections.OrderedDict[Any, list[tuple[int, Field[Any]]]] = collections.OrderedDict()
    per_source[primary] = []
    extras = []
    for index, ((source, field), label) in enumerate(zip(shape.owners, shape.labels)):
        if source is None or field is None:
            extras.append((index, label))
        else:
            per_source.setdefault(source, []).append((index, field))
    namespace: dict[str, Any] = {"new": object.__new__}
    variables: dict[Any, int] = {}
    body = []

    def value(index: int) -> str:
        return _read_expr(f"v{index}", index, shape.converters[index], namespace)

    for number, source in enumerate(per_source):
        variables[source] = number
        namespace[f"C{number}"] = _model_of(source)
        namespace[f"L{number}"] = _model_of(source)._meta.loader
    # What the primary instance holds besides its columns: unrelated joined models (by
    # name) and expressions (by label). Built last, when the others exist.
    primary_extra = []
    forward = collections.defaultdict(list)
    links = []
    for source, number in variables.items():
        if source is primary:
            continue
        entries = per_source[source]
        body.append(f"o{number} = new(L{number})")
        body += _stores(f"o{number}", _model_of(source), [(field.attr_key, value(index)) for index, field in entries])
        empty = " and ".join(f"v{index} is None" for index, _field in entries) or "True"
        body.append(f"e{number} = {empty}")
        rel = join_rels.get(source)
        if rel is None:
            alias_name = source._alias_name if isinstance(source, ModelAlias) else None
            name = alias_name or _model_of(source).__name__.lower()
            primary_extra.append((name, f"None if e{number} else o{number}"))
            continue
        src, fk, is_forward = rel
        if src not in variables:
            continue
        if is_forward:
            forward[variables[src]].append(f"{fk.name!r}: None if e{number} else o{number}")
        else:
            links.append(f"if not e{number}:")
            links.append(f"    o{number}._rel = {{{fk.name!r}: o{variables[src]}}}")
    primary_extra += [(label, value(index)) for index, label in extras]
    body.append("o0 = new(L0)")
    body += _stores(
        "o0",
        _model_of(primary),
        [(field.attr_key, value(index)) for index, field in per_source[primary]] + primary_extra,
    )
    body += links
    for holder, items in forward.items():
        body.append(f"o{holder}._rel = {{{', '.join(items)}}}")
    # Every instance is complete: each becomes an instance of its model.
    body += [f"o{number}.__class__ = C{number}" for number in variables.values()]
    names = [f"v{index}" for index in range(len(shape.owners))]
    unpack = ", ".join(names) + ","
    key_index = next(
        (
            index
            for index, (owner, field) in enumerate(shape.owners)
            if owner is primary and field is not None and field.primary_key
        ),
        None,
    )
    namespace["bad_value"] = functools.partial(_raise_bad_value, shape.columns, shape.converters, key_index)
    code = (
        "def hydrate(rows):\n"
        "    out = []\n"
        "    append = out.append\n"
        "    try:\n"
        f"        for {unpack} in rows:\n"
        + "".join(f"            {line}\n" for line in body)
        + "            append(o0)\n"
        "    except Exception as exc:\n"
        f"        bad_value(exc, [{', '.join(f'locals().get({name!r})' for name in names)}])\n"
        "    return out\n"
    )
    hydrate: RowsFunction = generate_function("hydrate", code, namespace)
    if cacheable:
        meta._hydrators[key] = hydrate
    return hydrate
