"""Model-aware SELECTs: ``ModelSelect``, compound selects and the shapes of their results.

A ``ModelSelect`` is a ``sql.query.Select`` that knows its model: it routes to the model's
read database (or a session's), joins along foreign keys without an ``on=``, resolves
lookups (``lookups.py``), runs, and hands rows to the hydration code (``hydration.py``) in the
shape asked for: model instances (the default), dicts, tuples, namedtuples or flat objects.
Results are cached on the query object; ``iterator()`` streams without caching.
"""

from __future__ import annotations

import collections
import re
from typing import TYPE_CHECKING, Any, Generic, Iterator, Literal, Sequence, TypeVar, overload

from ..bounded import BoundedCache
from ..exceptions import FieldError
from ..fields import Field, ForeignKeyField
from ..sql.nodes import JOIN, SQL, Expression, Function, Node, Operand, fn, join_kind
from ..sql.query import CompoundSelect, Select, SelectBase
from .aliases import FieldAlias, ModelAlias, _column_owner, _fields_of, _model_of
from .hydration import _convert_rows, _flat_objects, _hydrator_for, _RowShape, _tuple_converter, graph_hydrator
from .lookups import apply_lookups
from .metadata import ModelBase
from .model import _set_raw
from .prefetch import prefetch

if TYPE_CHECKING:
    from typing_extensions import Self

    from ..backends.base import Database
    from ..dialects.base import Dialect
    from ..session import Session
    from .aliases import Source

    _Q = TypeVar("_Q", bound="ModelSelect[Any]")

# How a join links objects: (source joined from, foreign key, True if the key is on that source).
JoinRelation = tuple[Any, ForeignKeyField[Any], bool]

# The type of one result row: the model for ``User.select()``, ``dict[str, Any]`` after
# ``.dicts()``, a tuple after ``.tuples()``. For type checkers only.
_R = TypeVar("_R")


class _ResultShapes:
    """What SELECTs over a model (plain or compound) share: the engine they compile for and
    the shape of their results (model instances, dicts, tuples, namedtuples)."""

    if TYPE_CHECKING:
        model: Any
        _row_type: str

        def _clone(self) -> Self: ...

    def _dialect(self) -> Dialect:
        model = _model_of(self.model)
        return model._meta.get_database().dialect_for(model)

    def _with_row_type(self, row_type: str) -> Any:
        clone = self._clone()
        clone._row_type = row_type
        return clone

    def dicts(self, as_dict: bool = True) -> Any:
        return self._with_row_type("dicts" if as_dict else "models")

    def tuples(self, as_tuple: bool = True) -> Any:
        return self._with_row_type("tuples" if as_tuple else "models")

    def namedtuples(self, as_namedtuple: bool = True) -> Any:
        return self._with_row_type("namedtuples" if as_namedtuple else "models")

    def objects(self) -> Any:
        """Every selected column as an attribute of one instance of the queried model."""
        return self._with_row_type("objects")


class ModelSelect(_ResultShapes, Select, Generic[_R]):
    """A SELECT over a model, returning model instances (or dicts, tuples, namedtuples)."""

    # Set by _init_model_state (shared with the wrapped selects of .tuples() on a compound).
    model: Any
    _row_type: str
    _result: list[_R] | None
    _join_rels: dict[Any, Any]
    _parent_link: Any
    _lookup_joins: dict[Any, Any]
    _session: Session | None

    if TYPE_CHECKING:

        def dicts(self, as_dict: bool = True) -> ModelSelect[dict[str, Any]]: ...
        def tuples(self, as_tuple: bool = True) -> ModelSelect[tuple[Any, ...]]: ...
        def namedtuples(self, as_namedtuple: bool = True) -> ModelSelect[Any]: ...
        def objects(self) -> ModelSelect[_R]: ...

    def __init__(self, model: Any, columns: Any = ()) -> None:
        models = tuple(columns) if columns else (model,)
        for column in models:
            if not isinstance(column, ModelBase):  # (only model classes are looked up)
                known = None
                break
        else:
            known = _SELECT_LISTS.get(models)
        if known is not None:
            # every column of these models (the usual select): the list and its shape, built once
            Select.__init__(self, (), (model,), None)
            self._columns = known[0]
            self._columns_shape = known
        else:
            expanded: list[Any] = []
            whole_models = True
            for column in models:
                if isinstance(column, ModelBase):
                    expanded.extend(column._meta.fields.values())
                elif isinstance(column, ModelAlias):
                    expanded.extend(_fields_of(column))
                    whole_models = False
                else:
                    expanded.append(column)
                    whole_models = False
            Select.__init__(self, expanded, (model,), None)
            if whole_models:
                # every column of these models: their classes are the select list's shape
                self._columns_shape = _SELECT_LISTS[models] = (self._columns, ("models", models))
        _init_model_state(self, model, "models")
        self._populate_existing = False

    def populate_existing(self) -> Self:
        """Overwrite objects already in the session's identity map with the loaded rows."""
        clone = self._clone()
        clone._populate_existing = True
        return clone

    def _clone(self) -> Self:
        # Query._clone with the cached result left behind, in one dict copy
        clone = object.__new__(type(self))
        state = self.__dict__.copy()
        state["_result"] = None
        clone.__dict__ = state
        return clone

    @property
    def database(self) -> Any:
        return _model_of(self.model)._meta.database

    def _read_database(self) -> Database:
        model = _model_of(self.model)
        session = self._session
        if session is not None:
            if self._for_update is not None:
                return session._write_database(model)
            return session._read_database(model)
        database = model._meta.get_database()
        if self._for_update is not None:
            return database.route_write(model)
        return database.route_read(model)

    # -- as an operand -----------------------------------------------------------------------
    def _as_operand_of(self, lhs: Node) -> Node:
        """This query compared with ``lhs`` (``Message.user.in_(User.select().where(...))``):
        a query of a whole model selects the column ``lhs`` refers to (the foreign key's
        target, else the primary key) instead of every column, which no engine accepts."""
        columns = self._columns
        whole = _fields_of(self.model)
        if len(columns) == len(whole) and all(map(_same_column, columns, whole)):
            model = _model_of(self.model)
            field = lhs.field if isinstance(lhs, FieldAlias) else lhs
            if isinstance(field, ForeignKeyField) and field.rel_model is model:
                return self.columns(_column(self.model, field.rel_field))
            if model._meta.primary_key is not None and not model._meta.composite_key:
                return self.columns(_column(self.model, model._meta.primary_key))
            raise FieldError(
                f"a query of {model.__name__} compared with a column must select one column, and "
                f"{model.__name__} has no single-column primary key: select it, "
                f"{model.__name__}.select({model.__name__}.<field>)"
            )
        if len(columns) > 1 and isinstance(lhs, (Field, FieldAlias, Function)):
            raise FieldError(
                f"a subquery compared with one column must select one column; this one selects "
                f"{len(columns)}: select just the one to compare, e.g. .select({_label(columns[0])})"
            )
        return self

    def _resolve_name(self, name: str) -> Operand | None:
        """A field of the queried model, else of one joined model, else a selected alias."""
        field = _model_of(self.model)._meta.fields.get(name)
        if field is not None:
            return FieldAlias(self.model, field) if isinstance(self.model, ModelAlias) else field
        found: list[Operand] = []
        for _kind, dest, _on in self._joins:
            if isinstance(dest, (ModelBase, ModelAlias)):
                field = _model_of(dest)._meta.fields.get(name)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # a ModelBase is a model class
                if field is not None:
                    found.append(FieldAlias(dest, field) if isinstance(dest, ModelAlias) else field)
        if len(found) > 1:
            raise FieldError(f"{name!r} names a field of several joined models: pass the field itself")
        if found:
            return found[0]
        return Select._resolve_name(self, name)

    # -- joins -----------------------------------------------------------------------------
    def join(self, dest: Any, join_type: str = JOIN.INNER, on: Any = None, attr: Any = None) -> Self:
        """Join ``dest``; without ``on`` the foreign key between the two is used."""
        src = self._join_source
        rel = None
        join_type = join_kind(join_type)
        if join_type == JOIN.CROSS:
            if on is not None:
                raise ValueError("a CROSS JOIN takes no on= condition")
        elif on is None and isinstance(dest, (ModelBase, ModelAlias)):
            on, rel = _implied_join(src, dest)
        elif isinstance(getattr(on, "field", on), ForeignKeyField) and isinstance(dest, (ModelBase, ModelAlias)):
            on, rel = _join_along(src, dest, on)
        elif isinstance(dest, (ModelBase, ModelAlias)) and isinstance(on, Expression):
            rel = _relation_from_condition(src, dest, on)
        clone = super().join(dest, join_type, on)
        if rel is not None:
            clone._join_rels = dict(self._join_rels)
            clone._join_rels[dest] = rel
        return clone

    def left_outer_join(self, dest: Any, on: Any = None) -> Self:
        """``join(dest, JOIN.LEFT_OUTER, on)``: keep rows without a match (their related side is None)."""
        return self.join(dest, JOIN.LEFT_OUTER, on)

    # -- Django-style lookups --------------------------------------------------------------
    def filter(self, *conditions: Any, **lookups: Any) -> Self:
        """``filter(name__startswith="a", fk__field=1, backref__field__gt=2)``."""
        return apply_lookups(self, conditions, lookups)

    def _join_for_lookup(self, path: tuple[str, ...], source: Source, fk: ForeignKeyField[Any]) -> tuple[Self, Source]:
        existing = self._lookup_joins.get(path)
        if existing is not None:
            return self, existing
        dest = fk.rel_model
        already = {src for src in self._from} | {dest_ for _t, dest_, _on in self._joins}
        if dest in already:
            dest = ModelAlias(dest, "_".join(path))
        src_field = FieldAlias(source, fk) if isinstance(source, ModelAlias) else fk
        dest_field = FieldAlias(dest, fk.rel_field) if isinstance(dest, ModelAlias) else fk.rel_field
        join_type = JOIN.LEFT_OUTER if fk.null else JOIN.INNER
        clone = super().join(dest, join_type, src_field == dest_field)
        clone._join_source = self._join_source
        clone._lookup_joins = dict(self._lookup_joins)
        clone._lookup_joins[path] = dest
        return clone, dest

    # -- execution -------------------------------------------------------------------------
    def execute(self, database: Any = None) -> list[_R]:
        """Run the query; returns the list of results (cached on this query object)."""
        if self._result is None:
            self._result = self._fetch(database)
        return self._result

    def _fetch(self, database: Database | None = None) -> list[_R]:
        if self._session is not None:
            self._session._autoflush()
        model = _model_of(self.model)
        model._meta.get_database().check_query(self)
        database = database or self._read_database()
        dialect = database.dialect
        sql, params = self.sql(dialect)
        if self._row_type == "models" and _single_model_columns(self._columns, self.model):
            # Objects are built a chunk of rows at a time, so the driver's row tuples do not
            # all live alongside the objects made from them: the peak is the objects, their
            # values and one chunk (sqlite3 and psycopg2 make each tuple on fetch). Walking
            # the cursor row by row holds less still but is ~15% slower on sqlite3.
            results: list[_R] = []
            cursor = database.execute_unbuffered(sql, params)
            try:
                description = cursor.description
                while True:
                    rows = cursor.fetchmany(_HYDRATE_CHUNK)
                    if not rows:
                        return results
                    results += self._build_results(rows, dialect, description)
            finally:
                cursor.close()
        cursor = database.execute_sql(sql, params)
        rows = cursor.fetchall()
        return self._build_results(rows, dialect, cursor.description)

    def _build_results(self, rows: Sequence[Any], dialect: Dialect, description: Any) -> list[Any]:
        row_type = self._row_type
        columns = self._columns
        model = _model_of(self.model)
        if row_type == "models" and _single_model_columns(columns, self.model):
            # _single_model_columns: every column is a Field
            results = _hydrator_for(model, columns, dialect)(rows)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
            if self._parent_link is not None:
                fk, parent = self._parent_link
                for obj in results:
                    _set_raw(obj, "_rel", {fk.name: parent})
            if self._session is not None:
                results = self._session._merge_loaded(results, populate_existing=self._populate_existing)
            return results
        shape = _RowShape(columns, dialect, description)
        if row_type == "tuples":
            convert = _tuple_converter(shape.converters, columns)
            if convert is None:
                return [tuple(row) for row in rows] if rows and type(rows[0]) is not tuple else list(rows)
            return convert(rows)
        if row_type == "models":
            results = graph_hydrator(self, shape, dialect)(rows)
            if self._session is not None:
                results = self._session._merge_loaded(results, populate_existing=self._populate_existing)
            return results
        converted = _convert_rows(rows, shape.converters, columns)
        if row_type == "dicts":
            labels = shape.labels
            return [dict(zip(labels, row)) for row in converted]
        if row_type == "namedtuples":
            labels = [re.sub(r"\W", "_", label) for label in shape.labels]
            klass = collections.namedtuple("Row", labels, rename=True)  # type: ignore[misc]  # fields known only at run time
            return [klass(*row) for row in converted]
        return _flat_objects(model, shape, converted)

    def __iter__(self) -> Iterator[_R]:
        return iter(self.execute())

    def __len__(self) -> int:
        return len(self.execute())

    def __bool__(self) -> bool:
        return bool(self.execute())

    @overload
    def __getitem__(self, index: int) -> _R: ...
    @overload
    def __getitem__(self, index: slice) -> list[_R]: ...
    def __getitem__(self, index: int | slice) -> _R | list[_R]:
        if isinstance(index, slice):
            if index.step not in (None, 1) or (index.start or 0) < 0 or (index.stop is not None and index.stop < 0):
                raise ValueError("query slices take non-negative start/stop and no step")
            start = index.start or 0
            query = self.offset(start or None)
            if index.stop is not None:
                query = query.limit(max(index.stop - start, 0))
            return list(query)
        if isinstance(index, int):
            if index < 0:
                raise ValueError("negative indexing is not supported on queries")
            results = list(self.offset(index or None).limit(1))
            if not results:
                raise IndexError("query index out of range")
            return results[0]
        raise TypeError("query indices must be integers or slices")

    def iterator(self, chunk_size: int = 1000) -> Iterator[_R]:
        """Stream results without caching them on the query: memory stays flat whatever
        the number of rows (``chunk_size`` rows are held at a time).

        Reads through a server-side cursor. Until the loop ends (or the iterator is closed
        or garbage-collected) it holds this thread's connection: on PostgreSQL the cursor
        lives in the enclosing transaction, or in one opened for it and committed when it
        ends (statements sent meanwhile run in that transaction); on MySQL/MariaDB the
        connection can send nothing else meanwhile (``InterfaceError``), and closing early
        reads the rest of the result off the wire. SQLite steps through its result as is.

        Through a Router, a replica that cannot be reached before the first rows arrive
        hands the stream to another replica or the primary, as for any read; once rows have
        been yielded, a lost connection raises (starting again would repeat them).
        """
        if self._session is not None:
            self._session._autoflush()
        database = self._read_database()
        dialect = database.dialect
        sql, params = self.sql(dialect)
        stream = database._open_stream(sql, params, chunk_size)
        try:
            for rows, description in stream:
                yield from self._build_results(rows, dialect, description)
        finally:
            stream.close()

    def get(self) -> _R:
        """The first row; ``Model.DoesNotExist`` if there is none."""
        results = self.limit(1).execute() if self._limit != 1 else self.execute()
        if not results:
            model = _model_of(self.model)
            sql, params = self.sql()
            raise model.DoesNotExist(f"{model.__name__} matching query does not exist: {sql} -- params: {params!r}")
        return results[0]

    @overload
    def first(self, n: Literal[1] = 1) -> _R | None: ...
    @overload
    def first(self, n: int) -> Any: ...
    def first(self, n: int = 1) -> Any:
        """The first row (or the first ``n`` rows as a list), None if there are none."""
        if n != 1:
            return list(self.limit(n))
        results = self.limit(1).execute()
        return results[0] if results else None

    def peek(self, n: int = 1) -> Any:
        """The first row (or first ``n`` rows) without changing the query: ``first(n)``."""
        return self.first(n)

    def scalar(self, as_tuple: bool = False) -> Any:
        """The first column of the first row (the whole first row with ``as_tuple``)."""
        rows = self.tuples().limit(1).execute() if self._limit is None else self.tuples().execute()
        if not rows:
            return None
        return rows[0] if as_tuple else rows[0][0]

    def count(self, clear_limit: bool = False) -> int:
        """The number of rows this query returns (one COUNT query)."""
        query = self
        if clear_limit:
            query = query.limit(None).offset(None)
        counter: Any
        simple = not (query._group_by or query._distinct or query._limit is not None or query._offset or query._having)
        if simple:
            counter = Select.columns(query, fn.COUNT(SQL("*"))).order_by()
            counter = _as_tuples(counter)
        else:
            inner = query.order_by() if query._limit is None and not query._offset else query
            counter = Select([fn.COUNT(SQL("*"))], [Select.alias(inner, "_count_source")], None)
            counter = _wrap_plain(counter, query)
        return counter.scalar() or 0

    def exists(self) -> bool:
        """True if the query has any row (one ``SELECT 1 ... LIMIT 1``)."""
        probe = _as_tuples(self.columns(SQL("1")).order_by().limit(1))
        return bool(probe.execute())

    def prefetch(self, *related: Any) -> list[_R]:
        """Run the query and load ``related`` models (foreign keys or backrefs) in one query each, not one per row."""
        results: list[_R] = prefetch(self, *related)
        return results

    # -- compound queries run and hydrate like their first SELECT ----------------------------
    def union(self, other: Any) -> ModelCompoundSelect[_R]:
        return ModelCompoundSelect(self, "UNION", other)

    def union_all(self, other: Any) -> ModelCompoundSelect[_R]:
        return ModelCompoundSelect(self, "UNION ALL", other)

    def intersect(self, other: Any) -> ModelCompoundSelect[_R]:
        return ModelCompoundSelect(self, "INTERSECT", other)

    def except_(self, other: Any) -> ModelCompoundSelect[_R]:
        return ModelCompoundSelect(self, "EXCEPT", other)

    __add__ = union_all  # type: ignore[assignment]  # q1 + q2 is UNION ALL, not SQL "+"


class ModelCompoundSelect(_ResultShapes, CompoundSelect, Generic[_R]):
    """``q1.union(q2)`` and friends over models: iterable, with the first query's row shape."""

    if TYPE_CHECKING:

        def dicts(self, as_dict: bool = True) -> ModelCompoundSelect[dict[str, Any]]: ...
        def tuples(self, as_tuple: bool = True) -> ModelCompoundSelect[tuple[Any, ...]]: ...
        def namedtuples(self, as_namedtuple: bool = True) -> ModelCompoundSelect[Any]: ...

    def __init__(self, lhs: Any, op: str, rhs: Any) -> None:
        CompoundSelect.__init__(self, lhs, op, rhs)
        first: Any = lhs
        while isinstance(first, CompoundSelect):
            first = first.lhs
        self._first_select = first  # not `first`: that is the method
        self.model = first.model
        self._row_type = first._row_type
        self._result: list[_R] | None = None

    def _clone(self) -> Self:
        clone = super()._clone()
        clone._result = None
        return clone

    database = ModelSelect.database  # pyright: ignore[reportIncompatibleMethodOverride]  # the same property

    union = ModelSelect.union
    union_all = ModelSelect.union_all
    intersect = ModelSelect.intersect
    except_ = ModelSelect.except_
    __add__ = union_all  # type: ignore[assignment]  # q1 + q2 is UNION ALL, not SQL "+"

    def execute(self, database: Any = None) -> list[_R]:
        if self._result is None:
            model = _model_of(self.model)
            meta_database = model._meta.get_database()
            meta_database.check_query(self)
            database = database or meta_database.route_read(model)
            sql, params = self.sql(database.dialect)
            cursor = database.execute_sql(sql, params)
            shaper = self._first_select._with_row_type(self._row_type)
            results: list[_R] = shaper._build_results(cursor.fetchall(), database.dialect, cursor.description)
            self._result = results
            return results
        return self._result

    def __iter__(self) -> Iterator[_R]:
        return iter(self.execute())

    def __len__(self) -> int:
        return len(self.execute())

    def first(self) -> _R | None:
        results = self.limit(1).execute()
        return results[0] if results else None

    def count(self) -> int:
        counter = Select([fn.COUNT(SQL("*"))], [SelectBase.alias(self, "_count_source")], None)
        return _wrap_plain(counter, self).scalar() or 0

    def exists(self) -> bool:
        return bool(self.limit(1).execute())


def _as_tuples(query: _Q) -> _Q:
    query._row_type = "tuples"
    query._result = None
    return query


class _PlainSelect(ModelSelect[tuple[Any, ...]]):
    """A wrapper SELECT (e.g. COUNT over a subquery) executed on its inner model's database."""


def _wrap_plain(select: Select, inner_query: ModelSelect[Any] | ModelCompoundSelect[Any]) -> _PlainSelect:
    wrapped = object.__new__(_PlainSelect)
    wrapped.__dict__ = select.__dict__.copy()
    _init_model_state(wrapped, inner_query.model, "tuples")
    return wrapped


# Rows fetched and hydrated at a time by execute(): at 500, the chunk is ~4% of the peak
# memory of 10,000 objects of four columns, and hydrating is as fast as from one fetchall().
_HYDRATE_CHUNK = 500


def _init_model_state(query: ModelSelect[Any], model: Source, row_type: str) -> None:
    """The model-aware state of a select, fresh: no results, joins, parent or session."""
    query.model = model
    query._row_type = row_type
    query._result = None
    query._join_rels = {}
    query._parent_link = None
    query._lookup_joins = {}
    query._session = None


def _single_model_columns(columns: Sequence[object], source: Source) -> bool:
    if not columns or isinstance(source, ModelAlias):
        return False
    for column in columns:
        if type(column) is FieldAlias or not isinstance(column, Field) or column.model is not source:
            return False
    return True


def _same_column(a: object, b: object) -> bool:
    if type(a) is FieldAlias and type(b) is FieldAlias:
        return a.source is b.source and a.field is b.field
    return a is b


def _label(column: object) -> str:
    if isinstance(column, (Field, FieldAlias)):
        owner = _column_owner(column)[0]
        assert owner is not None  # a field has an owner
        return f"{_model_of(owner).__name__}.{column.name}"
    return "<column>"


def _column(source: Source, field: Field[Any]) -> Field[Any] | FieldAlias:
    """``field`` as seen from ``source`` (through the alias when the source is one)."""
    return FieldAlias(source, field) if isinstance(source, ModelAlias) else field


# The select list of whole models (``select(Tweet, User)``) and its shape, by the model
# classes: the columns tuple is immutable, so every such query shares it.
_SELECT_LISTS: BoundedCache[tuple[Any, ...], tuple[tuple[Any, ...], Any]] = BoundedCache(256)


# The foreign-key join condition between two model classes (not aliases), by the pair: the
# condition is an immutable node, so every query joining the pair shares it.
_JOIN_CONDITIONS: BoundedCache[tuple[Any, Any], tuple[Any, Any]] = BoundedCache(256)


def _implied_join(src: Any, dest: Any) -> tuple[Any, Any]:
    """``_join_condition(src, dest)``, cached when both sides are model classes."""
    if not (isinstance(src, ModelBase) and isinstance(dest, ModelBase)):
        return _join_condition(src, dest)
    key = (src, dest)
    found = _JOIN_CONDITIONS.get(key)
    if found is None:
        found = _JOIN_CONDITIONS[key] = _join_condition(src, dest)
    return found


def _join_condition(src: Any, dest: Any) -> tuple[Expression, JoinRelation]:
    src_model, dest_model = _model_of(src), _model_of(dest)
    column = _column

    forward = [fk for fk in src_model._meta.refs if fk.rel_model is dest_model]
    backward = [fk for fk in dest_model._meta.refs if fk.rel_model is src_model]
    if src_model is dest_model:
        backward = []  # a self-join follows the forward key
    candidates = [(fk, True) for fk in forward] + [(fk, False) for fk in backward]
    if not candidates:
        raise FieldError(f"no foreign key between {src_model.__name__} and {dest_model.__name__}; pass on=...")
    if len(candidates) > 1:
        names = ", ".join(fk.qualified_name for fk, _ in candidates)
        raise FieldError(
            f"several foreign keys join {src_model.__name__} and {dest_model.__name__} ({names}); pass on=..."
        )
    fk, is_forward = candidates[0]
    if is_forward:
        return column(src, fk) == column(dest, fk.rel_field), (src, fk, True)
    return column(dest, fk) == column(src, fk.rel_field), (src, fk, False)


def _join_along(src: Any, dest: Any, on: Any) -> tuple[Expression, JoinRelation]:
    """``join(Relationship, on=Relationship.to_user)``: a foreign key as ``on=`` joins along it.

    The key belongs to one side of the join and points at the other; seen through an alias
    (``on=Alias.fk``) it joins that alias. A foreign key that links neither side is refused:
    compiling it bare would give ``ON "t"."fk_id"``, true for every row on some engines.
    """
    fk: ForeignKeyField[Any] = on.field if isinstance(on, FieldAlias) else on  # type: ignore[assignment]  # pyright: ignore[reportAssignmentType]  # join() passes foreign keys only
    src_model, dest_model = _model_of(src), _model_of(dest)
    column = _column
    owner = on.source if isinstance(on, FieldAlias) else fk.model
    if owner is dest and fk.rel_model is src_model:
        return column(dest, fk) == column(src, fk.rel_field), (src, fk, False)
    if owner is src and fk.rel_model is dest_model:
        return column(src, fk) == column(dest, fk.rel_field), (src, fk, True)
    raise FieldError(
        f"join({dest_model.__name__}, on={fk.qualified_name}): that foreign key links "
        f"{fk.model.__name__} to {_model_of(fk.rel_model).__name__}, not {src_model.__name__} to "
        f"{dest_model.__name__}; switch() to the model it starts from, or pass on=(a == b)"
    )


def _relation_from_condition(src: Any, dest: Any, on: Expression) -> JoinRelation | None:
    """Recognise ``fk == pk`` in an explicit ``on=`` so joined objects still get linked."""
    if on.op != "=":
        return None
    sides = []
    for node in (on.lhs, on.rhs):
        owner, field = _column_owner(node)
        sides.append((owner, field))
    (lhs_src, lhs_field), (rhs_src, rhs_field) = sides
    for (a_src, a_field), (b_src, b_field) in (
        ((lhs_src, lhs_field), (rhs_src, rhs_field)),
        ((rhs_src, rhs_field), (lhs_src, lhs_field)),
    ):
        if isinstance(a_field, ForeignKeyField) and b_field is a_field.rel_field:
            if a_src is src and b_src is dest:
                return (src, a_field, True)
            if a_src is dest and b_src is src:
                return (src, a_field, False)
    return None
