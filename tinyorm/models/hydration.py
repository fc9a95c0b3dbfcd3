"""Hydration: turning driver rows into model instances, dicts or converted tuples.

Row constructors are generated Python (``exec``) once per query shape and engine, and cached
on the model's metadata: a plain select over one model gets a loop that unpacks each row into
locals and builds the instance's ``__dict__`` in one literal (conversions inlined only for the
columns that need one); a select over several joined models gets one that builds every
model's instance per row and links them as the joins say. Instances are filled through the
``__dict__`` descriptor directly (``_SET_DICT``), skipping ``Model.__setattr__``'s change
tracking. Keep per-row work inside the generated loops: no calls per row that the generated
source could avoid.
"""

from __future__ import annotations

import collections

from ..fields import Field
from ..sql.json import JsonPath, JsonText
from ..sql.nodes import Alias
from ..sql.query import SelectBase
from .aliases import FieldAlias, ModelAlias, _column_owner, _model_of
from .model import _SET_DICT


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
    for index, field in enumerate(fields):
        converter = field.python_converter(dialect)
        if converter is None:
            items.append(f"{field.attr_key!r}: v{index}")
        else:
            namespace[f"c{index}"] = converter
            items.append(f"{field.attr_key!r}: (None if v{index} is None else c{index}(v{index}))")
    items.append("'_persisted': True")
    unpack = ", ".join(names) + ("," if len(names) == 1 else "")
    source = (
        "def hydrate(rows):\n"
        "    out = []\n"
        "    append = out.append\n"
        f"    for {unpack} in rows:\n"
        "        o = new(cls)\n"
        f"        set_dict(o, {{{', '.join(items)}}})\n"
        "        append(o)\n"
        "    return out\n"
    )
    exec(source, namespace)  # noqa: S102 - generated from field names we own
    hydrate = namespace["hydrate"]
    meta._hydrators[key] = hydrate
    return hydrate


def _tuple_converter(converters):
    """A function converting rows to tuples, or None when no column needs converting."""
    if not any(converters):
        return None
    namespace = {}
    items = []
    for index, converter in enumerate(converters):
        if converter is None:
            items.append(f"r[{index}]")
        else:
            namespace[f"c{index}"] = converter
            items.append(f"(None if r[{index}] is None else c{index}(r[{index}]))")
    source = f"def convert(rows):\n    return [({', '.join(items)},) for r in rows]\n"
    exec(source, namespace)  # noqa: S102
    return namespace["convert"]


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


def _convert_rows(rows, converters):
    convert = _tuple_converter(converters)
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
    key = (
        "graph",
        tuple(query._columns),
        tuple(sorted(((id(k), v[1], v[2]) for k, v in join_rels.items()), key=repr)),
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
        if shape.converters[index] is None:
            return f"v{index}"
        namespace[f"c{index}"] = shape.converters[index]
        return f"(None if v{index} is None else c{index}(v{index}))"

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
    unpack = ", ".join(f"v{index}" for index in range(len(shape.owners))) + ","
    source = (
        "def hydrate(rows):\n"
        "    out = []\n"
        "    append = out.append\n"
        f"    for {unpack} in rows:\n" + "".join(f"        {line}\n" for line in body) + "        append(o0)\n"
        "    return out\n"
    )
    exec(source, namespace)  # noqa: S102 - generated from names we own
    hydrate = namespace["hydrate"]
    if cacheable:
        meta._hydrators[key] = hydrate
    return hydrate
