"""Hydration: turning driver rows into model instances, dicts or converted tuples.

Row constructors are generated Python (``generate_function``, the one place that runs
``exec``) once per query shape and engine, and cached in bounded caches: per model on its
metadata, and for converted tuples (``.tuples()``, ``.dicts()``) one module-wide cache keyed by
the converters. Keys are the shape (fields, models, labels, converters, engine), never a
query or expression object, so rebuilding the same query per request reuses one entry: a plain select over one model gets a loop that unpacks each row into
locals and builds the instance's ``__dict__`` in one literal (conversions inlined only for the
columns that need one); a select over several joined models gets one that builds every
model's instance per row and links them as the joins say. Instances are filled through the
``__dict__`` descriptor directly (``_SET_DICT``), skipping ``Model.__setattr__``'s change
tracking. Keep per-row work inside the generated loops: no calls per row that the generated
source could avoid.
"""

from __future__ import annotations

import collections
import functools
import operator
from typing import Any

from ..bounded import BoundedCache
from ..exceptions import DataError
from ..fields import Field
from ..sql.json import JsonPath, JsonText
from ..sql.nodes import Alias
from ..sql.query import SelectBase
from .aliases import FieldAlias, ModelAlias, _column_owner, _model_of
from .model import _SET_DICT

# Row converters for tuples and dicts, by the tuple of per-column converters (functions the
# dialects and fields own, so equal shapes give equal keys).
ROW_CONVERTERS: BoundedCache[Any, Any] = BoundedCache(256)


def generate_function(name, source, namespace):
    """Compile ``source`` (which defines ``name``) and return the function.

    Every generated row constructor comes from here. The source is built only from
    identifiers and ``repr()`` of names tinyorm owns (attribute keys, labels); values reach
    the function through ``namespace``, never through the text.
    """
    exec(source, namespace)  # noqa: S102 - generated from names we own
    return namespace[name]


def _hydrator_for(model, fields, dialect):
    """A function turning row tuples into instances of ``model`` (generated once per shape).

    Conversions are inlined only for the columns that need one; plain integers and strings
    are copied straight from the row.
    """
    meta = model._meta
    key = (fields, dialect)
    hydrate = meta._hydrators.get(key)
    if hydrate is not None:
        return hydrate
    namespace = {"new": object.__new__, "cls": model, "set_dict": _SET_DICT}
    names = [f"v{index}" for index in range(len(fields))]
    items = []
    converters = [field.python_converter(dialect) for field in fields]
    for index, field in enumerate(fields):
        items.append(f"{field.attr_key!r}: {_read_expr(f'v{index}', index, converters[index], namespace)}")
    items.append("'_persisted': True")
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
        "            o = new(cls)\n"
        f"            set_dict(o, {{{', '.join(items)}}})\n"
        "            append(o)\n"
        "    except Exception as exc:\n"
        f"        bad_value(exc, [{', '.join(f'locals().get({name!r})' for name in names)}])\n"
        "    return out\n"
    )
    hydrate = generate_function("hydrate", source, namespace)
    meta._hydrators[key] = hydrate
    return hydrate


def _tuple_converter(converters, columns=None):
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
    namespace = {}
    items = [_read_expr(f"r[{index}]", index, converter, namespace) for index, converter in enumerate(converters)]
    namespace["bad_rows"] = functools.partial(_raise_bad_rows, columns, converters, key_index)
    source = (
        "def convert(rows):\n"
        "    try:\n"
        f"        return [({', '.join(items)},) for r in rows]\n"
        "    except Exception as exc:\n"
        "        bad_rows(exc, rows)\n"
    )
    convert = ROW_CONVERTERS[key] = generate_function("convert", source, namespace)
    return convert


def _class_checker(converters, columns):
    """Rows whose columns need only a class check: one C-level pass per checked column
    (no tuple is rebuilt), converting row by row only when some value is of another class."""
    checks = [
        (operator.itemgetter(index), converter.exact_class, {converter.exact_class, type(None)})
        for index, converter in enumerate(converters)
        if converter is not None
    ]
    slow = None

    def all_of_class(getter, klass, allowed, rows):
        if klass is int:
            # sum() adds machine integers in C, twice as fast as collecting the types: an
            # int result means every value was an int (a float makes it a float; None,
            # text or bytes raise, and are looked at more closely below).
            try:
                return sum(map(getter, rows)).__class__ is int
            except TypeError:
                pass
        return allowed.issuperset(map(type, map(getter, rows)))

    def convert(rows):
        nonlocal slow
        for getter, klass, allowed in checks:
            if not all_of_class(getter, klass, allowed, rows):
                if slow is None:
                    slow = _tuple_converter([_plain(converter) for converter in converters], columns)
                return slow(rows)
        return list(rows) if not rows or type(rows[0]) is tuple else [tuple(row) for row in rows]

    return convert


def _plain(converter):
    """The converter without its ``exact_class`` (so ``_tuple_converter`` calls it)."""
    if converter is None:
        return None
    return lambda value: converter(value)


def _read_expr(name, index, converter, namespace):
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


def _raise_bad_value(columns, converters, key_index, exc, values):
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


def _raise_bad_rows(columns, converters, key_index, exc, rows):
    for row in rows:
        try:
            for converter, value in zip(converters, row):
                if converter is not None and value is not None:
                    converter(value)
        except Exception:  # noqa: BLE001
            _raise_bad_value(columns, converters, key_index, exc, row)
    raise exc


def _column_name(columns, index):
    column = columns[index] if columns is not None else None
    field = getattr(column, "field", column)
    if isinstance(field, Field):
        return field.qualified_name
    return f"column {index + 1} of the result"


def _column_label(column, index, description):
    if isinstance(column, (Field, FieldAlias)):
        return column.name
    if isinstance(column, SelectBase) and column._alias:
        return column._alias
    if isinstance(column, Alias):
        return column.name
    if isinstance(column, (JsonPath, JsonText)):
        return column.name
    if description is not None:
        return description[index][0]
    return f"column{index}"


class _RowShape:
    """How the selected columns map onto objects: computed once per query shape."""

    __slots__ = ("columns", "owners", "converters", "labels")

    def __init__(self, columns, dialect, description):
        self.columns = columns
        self.owners = [_column_owner(column) for column in columns]
        self.converters = [
            field.python_converter(dialect) if field is not None else _result_converter(column, dialect)
            for column, (_source, field) in zip(columns, self.owners)
        ]
        self.labels = [_column_label(column, index, description) for index, column in enumerate(columns)]


def _result_converter(column, dialect):
    """How an expression's value is decoded, where it says (a JSON path does)."""
    if isinstance(column, Alias):
        column = column.node
    converter = getattr(column, "result_converter", None)
    return converter(dialect) if converter is not None else None


def _convert_rows(rows, converters, columns=None):
    convert = _tuple_converter(converters, columns)
    return convert(rows) if convert is not None else rows


def _flat_objects(model, shape, rows):
    keys = []
    for (source, field), label in zip(shape.owners, shape.labels):
        keys.append(field.attr_key if (field is not None and _model_of(source) is model) else label)
    results = []
    for row in rows:
        obj = object.__new__(model)
        data = dict(zip(keys, row))
        data["_persisted"] = True
        _SET_DICT(obj, data)
        results.append(obj)
    return results


def graph_hydrator(query, shape, dialect):
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
        hydrate = meta._hydrators.get(key)
        if hydrate is not None:
            return hydrate
    per_source = collections.OrderedDict()
    per_source[primary] = []
    extras = []
    for index, ((source, field), label) in enumerate(zip(shape.owners, shape.labels)):
        if source is None:
            extras.append((index, label))
        else:
            per_source.setdefault(source, []).append((index, field))
    namespace = {"new": object.__new__, "set_dict": _SET_DICT}
    variables = {}
    body = []

    def value(index):
        return _read_expr(f"v{index}", index, shape.converters[index], namespace)

    for number, (source, entries) in enumerate(per_source.items()):
        variables[source] = number
        namespace[f"C{number}"] = _model_of(source)
        items = [f"{field.attr_key!r}: {value(index)}" for index, field in entries] + ["'_persisted': True"]
        body.append(f"d{number} = {{{', '.join(items)}}}")
        body.append(f"o{number} = new(C{number}); set_dict(o{number}, d{number})")
        if number:
            empty = " and ".join(f"v{index} is None" for index, _field in entries) or "True"
            body.append(f"e{number} = {empty}")
    forward = collections.defaultdict(list)
    for source, number in variables.items():
        if source is primary:
            continue
        rel = join_rels.get(source)
        if rel is None:
            alias_name = source._alias_name if isinstance(source, ModelAlias) else None
            name = alias_name or _model_of(source).__name__.lower()
            body.append(f"d0[{name!r}] = None if e{number} else o{number}")
            continue
        src, fk, is_forward = rel
        if src not in variables:
            continue
        if is_forward:
            forward[variables[src]].append(f"{fk.name!r}: None if e{number} else o{number}")
        else:
            backref = getattr(fk, "backref_name", None) or fk.model.__name__.lower()
            holder = variables[src]
            body.append(f"if not e{number}:")
            body.append(f"    d{number}['_rel'] = {{{fk.name!r}: o{holder}}}")
            body.append(f"    d{holder}.setdefault('_joined', {{}}).setdefault({backref!r}, o{number})")
    for holder, items in forward.items():
        body.append(f"d{holder}['_rel'] = {{{', '.join(items)}}}")
    for index, label in extras:
        body.append(f"d0[{label!r}] = {value(index)}")
    names = [f"v{index}" for index in range(len(shape.owners))]
    unpack = ", ".join(names) + ","
    key_index = next(
        (index for index, (source, field) in enumerate(shape.owners) if source is primary and field.primary_key), None
    )
    namespace["bad_value"] = functools.partial(_raise_bad_value, shape.columns, shape.converters, key_index)
    source = (
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
    hydrate = generate_function("hydrate", source, namespace)
    if cacheable:
        meta._hydrators[key] = hydrate
    return hydrate
