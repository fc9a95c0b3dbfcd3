"""Model-aware writes: INSERT (single, many, from a query, upserts), UPDATE and DELETE.

``ModelInsert`` normalises rows given as dicts, tuples or instances into one column list
(defaults filled once per distinct key set), validates every value before any SQL, and splits
the rows into batches the engine accepts (parameter count and packet size). Upserts check the
conflict target against what the engine can honour. The precompiled single-row plans used by
``Model.save()``/``create()`` (``_InsertPlan``, ``_UpdatePlan``) live here too.
"""

from __future__ import annotations

import itertools
import operator
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from .. import exceptions
from ..events import notify_write, write_listeners
from ..exceptions import DataError, FieldError
from ..fields import Field, ForeignKeyField
from ..relations import _loaded_value
from ..sql.nodes import SQL, Expression, Node
from ..sql.query import Delete, Insert, Update
from .aliases import FieldAlias, _column_owner
from .hydration import _tuple_converter
from .lookups import _apply_lookup
from .metadata import _MISSING
from .model import Model, _value_node

if TYPE_CHECKING:
    from typing_extensions import Self

    from ..backends.base import Database
    from ..dialects.base import Dialect
    from ..sql.query import Query
    from .metadata import DatabaseLike

    # ModelInsert._normalise(): the columns, and the rows of values aligned with them.
    Normalised = tuple[list[Field[Any]], list[tuple[Any, ...]]]


class _UpdatePlan:
    """A precompiled ``UPDATE ... SET changed columns WHERE pk = ? [AND version = ?]``.

    Parameters go: the new values, the key, then the expected version.
    """

    __slots__ = ("sql", "getters")

    def __init__(self, model: type[Model], fields: Sequence[Field[Any]], dialect: Dialect) -> None:
        meta = model._meta
        placeholder = SQL("?", [None])
        assignments: list[tuple[Node, Node]] = [(field, placeholder) for field in fields]
        condition: Any = None  # the key's (one or more) equalities, ANDed
        for field in meta.primary_key_fields:
            part = Expression(field, "=", placeholder)
            condition = part if condition is None else condition & part
        version = meta.version_field
        if version is not None:
            assignments.append((version, Expression(version, "+", SQL("1"))))
            condition = condition & Expression(version, "=", placeholder)
        self.sql = Update(model, assignments).where(condition).sql(dialect)[0]
        keys = list(fields) + list(meta.primary_key_fields)
        self.getters = tuple((field.attr_key, field.adapter(dialect)) for field in keys)


def update_plan(model: type[Model], fields: tuple[Field[Any], ...], dialect: Dialect) -> _UpdatePlan:
    """The compiled one-row UPDATE of ``fields`` (``save()``; a flush's executemany), made
    once per model, column set and engine and kept on the model's bounded query cache."""
    cache = model._meta._query_cache
    key = ("update", dialect, fields)
    plan = cache.get(key)
    if plan is None:
        plan = cache[key] = _UpdatePlan(model, fields, dialect)
    return plan


class _InsertPlan:
    """A precompiled single-row INSERT for one model, set of columns and engine."""

    __slots__ = ("sql", "getters", "auto_pk", "returning", "dialect")

    def __init__(self, model: type[Model], fields: Sequence[Field[Any]] | None, dialect: Dialect) -> None:
        self.dialect = dialect
        meta = model._meta
        pk = meta.primary_key
        if fields is None:  # every field but an auto-increment key
            fields = tuple(field for field in meta.fields.values() if not field.auto_increment)
        self.auto_pk = (
            pk if (pk is not None and not meta.composite_key and pk.auto_increment and pk not in fields) else None
        )
        query = Insert(model, fields, [tuple(SQL("?", [None]) for _ in fields)])
        # PostgreSQL has no lastrowid: the new key comes back through RETURNING.
        self.returning = self.auto_pk is not None and dialect.insert_returns_pk
        if self.returning:
            query = query.returning(pk)
        self.sql = query.sql(dialect)[0]
        self.getters = tuple((field.attr_key, field.adapter(dialect)) for field in fields)


def _resolve_field(model: type[Model], key: str | Field[Any] | FieldAlias) -> Field[Any]:
    if isinstance(key, Field):
        return key
    if isinstance(key, FieldAlias):
        return key.field
    meta = model._meta
    field = meta.fields.get(key) or meta.attr_keys.get(key) or meta.columns.get(key)
    if field is None:
        raise FieldError(f"{model.__name__} has no field named {key!r}")
    return field


class _ModelWrite:
    """What INSERT, UPDATE and DELETE over a model share: they run on its write database."""

    if TYPE_CHECKING:
        model: type[Model]  # set by each write's __init__

    @property
    def database(self) -> DatabaseLike | None:
        return self.model._meta.database

    def _write_database(self) -> Database:
        return self.model._meta.get_database().route_write(self.model)

    def _dialect(self) -> Dialect:
        return self.model._meta.get_database().dialect_for(self.model)


def _uniform_dict_rows(model: Any, raw: Any, all_fields: list[Any]) -> tuple[list[Any], list[Any]] | None:
    """``_normalise``'s result when every row is a plain dict with the first row's keys,
    picked column by column with one C-level ``itemgetter`` per row (the usual bulk
    insert); None when any row needs the general path: other keys, a default to fill,
    a foreign key (whose value may be an object), a single column."""
    if type(raw) is not list or not raw or type(raw[0]) is not dict:
        return None
    keys = tuple(raw[0])
    if len(keys) < 2:
        return None
    by_field = {_resolve_field(model, key): key for key in keys}
    if len(by_field) != len(keys):
        return None
    version = model._meta.version_field
    for field in all_fields:
        if field in by_field:
            if isinstance(field, ForeignKeyField):
                return None
        elif field.default is not None or field is version:
            return None
    if set(map(type, raw)) != {dict} or set(map(len, raw)) != {len(keys)}:
        return None
    columns = [field for field in all_fields if field in by_field]
    try:
        # equal sizes and every key found: each row has exactly the first row's keys
        rows = list(map(operator.itemgetter(*[by_field[field] for field in columns]), raw))
    except KeyError:
        return None
    return columns, rows


class ModelInsert(_ModelWrite, Insert):
    """INSERT of one or many rows of a model, split into batches the engine accepts."""

    def __init__(
        self,
        model: type[Model],
        rows: Any,
        fields: Sequence[Any] | None = None,
        single: bool = False,
        from_query: Query | None = None,
    ) -> None:
        Insert.__init__(self, model, (), (), None, from_query, None)
        self.model = model
        self._raw_rows = rows
        self._fields = fields
        self._single = single
        if from_query is not None:
            self.columns = tuple(_resolve_field(model, field) for field in fields)  # type: ignore[union-attr]  # pyright: ignore[reportOptionalIterable]  # insert_from() passes the fields

    def _normalise(self) -> Normalised:
        """(fields, rows of value tuples) with defaults filled in (computed once per query).

        Rows may be dicts (keyed by field, field name or column name), tuples (aligned with
        ``fields``) or model instances. Validation happens per engine, when values meet
        their fields' adapters.
        """
        cached: Normalised | None = self.__dict__.get("_normalised")
        if cached is not None:
            return cached
        model = self.model
        meta = model._meta
        raw = self._raw_rows
        if isinstance(raw, (dict, Model)):
            raw = [raw]
        explicit = tuple(_resolve_field(model, field) for field in self._fields) if self._fields else None
        all_fields = list(meta.fields.values())
        uniform = _uniform_dict_rows(model, raw, all_fields) if explicit is None else None
        if uniform is not None:
            self.__dict__["_normalised"] = uniform
            return uniform
        # Each row becomes (fields, values); resolving keys to fields happens once per
        # distinct key set, not once per row.
        resolved_keys: dict[tuple[Any, ...], tuple[Field[Any], ...]] = {}
        shaped: list[tuple[tuple[Field[Any], ...], tuple[Any, ...]]] = []
        for row in raw:
            if type(row) is dict or isinstance(row, dict):
                keys = tuple(row)
                fields = resolved_keys.get(keys)
                if fields is None:
                    fields = resolved_keys[keys] = tuple(_resolve_field(model, key) for key in keys)
                values = tuple(row.values())
            elif isinstance(row, (tuple, list)):
                fields = explicit or tuple(field for field in all_fields if not field.auto_increment)
                if len(row) != len(fields):
                    raise DataError(
                        f"insert into {model.__name__}: a row has {len(row)} values for {len(fields)} fields "
                        f"({', '.join(field.name for field in fields)})"
                    )
                values = tuple(row)
            elif isinstance(row, Model):
                if not isinstance(row, model):
                    raise DataError(f"insert_many() into {model.__name__} got a {type(row).__name__}")
                row._sync_related_keys()
                loaded = {
                    field: value
                    for field in all_fields
                    if (value := _loaded_value(row, field.attr_key, _MISSING)) is not _MISSING
                    and not (field.auto_increment and value is None)
                }
                fields = tuple(loaded)
                values = tuple(loaded.values())
            else:
                raise DataError(f"insert into {model.__name__}: cannot insert a {type(row).__name__}")
            shaped.append((fields, values))
        present: set[Field[Any]] = set()
        for fields in {fields for fields, _values in shaped}:
            present.update(fields)
        for field in all_fields:
            if field.default is not None or field is meta.version_field:
                present.add(field)
        columns = [field for field in all_fields if field in present]
        foreign_keys = {field for field in columns if isinstance(field, ForeignKeyField)}
        plans: dict[tuple[Field[Any], ...], tuple[list[tuple[int | None, Field[Any]]], Any]] = {}
        rows: list[tuple[Any, ...]] = []
        for fields, values in shaped:
            plan = plans.get(fields)
            if plan is None:
                # per column: the index of its value in the row, or None for a default
                position = {field: index for index, field in enumerate(fields)}
                steps = [(position.get(field), field) for field in columns]
                simple = all(index is not None for index, _field in steps) and not (foreign_keys & set(fields))
                getter = operator.itemgetter(*[index for index, _field in steps]) if simple and steps else None
                plan = plans[fields] = (steps, getter)
            steps, getter = plan
            if getter is not None:
                picked = getter(values)
                rows.append(picked if isinstance(picked, tuple) else (picked,))
                continue
            row_values: list[Any] = []
            for index, field in steps:
                if index is None:
                    row_values.append(field.get_default() if field.default is not None else None)
                    continue
                value = values[index]
                if field in foreign_keys and isinstance(value, Model):
                    value = _loaded_value(value, field.rel_field.attr_key)  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue]  # one of foreign_keys
                row_values.append(value)
            rows.append(tuple(row_values))
        result: Normalised = (columns, rows)
        self.__dict__["_normalised"] = result
        return result

    def _statements(self, dialect: Dialect, returning_pk: Field[Any] | None = None) -> list[tuple[str, list[Any]]]:
        """Compile every batch: [(sql, params)]. All values are validated before any SQL.
        ``returning_pk``: the key field a single-row insert returns through RETURNING."""
        if self.from_query is not None:
            return [self.sql(dialect)]
        columns, rows = self._normalise()
        if not rows:
            return []
        per_batch = 1 if self._single else dialect.batch_size(len(columns))
        statements = []
        budget = dialect.max_query_bytes
        start = 0
        while start < len(rows):
            batch = rows[start : start + per_batch]
            query = self._batch_query(columns, batch, returning_pk)
            sql, params = query.sql(dialect)
            if budget and len(batch) > 1 and _estimated_bytes(sql, params) > budget * 0.8:
                per_batch = max(1, len(batch) // 2)
                continue
            statements.append((sql, params))
            start += len(batch)
        return statements

    def _batch_query(
        self, columns: Sequence[Field[Any]], batch: Sequence[tuple[Any, ...]], returning_pk: Field[Any] | None = None
    ) -> Insert:
        query = Insert(self.model, columns, batch, columns, None, None)
        query._on_conflict = self._on_conflict
        query._returning = (returning_pk,) if returning_pk is not None else self._returning
        query._replace = self._replace
        pk = self.model._meta.primary_key
        if self._single and pk is not None and not self.model._meta.composite_key and pk.auto_increment:
            # MySQL: an upsert that updates reports the existing row's key through
            # LAST_INSERT_ID(pk) (see MySQLDialect.render_upsert).
            query.auto_pk_column = pk.column_name  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue]  # read with getattr by the MySQL dialect
        return query

    def on_conflict(
        self,
        action: str = "update",
        conflict_target: Iterable[Any] = (),
        update: dict[Any, Any] | None = None,
        preserve: Iterable[Any] = (),
        where: Node | None = None,
    ) -> Self:
        update = {
            (_resolve_field(self.model, key) if not isinstance(key, Field) else key): value
            for key, value in (update or {}).items()
        }
        preserve = [_resolve_field(self.model, item) if not isinstance(item, Field) else item for item in preserve]
        conflict_target = [
            _resolve_field(self.model, item) if not isinstance(item, Field) else item for item in conflict_target
        ]
        if self.model._meta.version_field is not None and update and self.model._meta.version_field not in update:
            version = self.model._meta.version_field
            update[version] = version + 1
        return Insert.on_conflict(self, action, conflict_target, update, preserve, where)  # pyright: ignore[reportReturnType]  # returns a clone of self

    def _as_upsert(self) -> Self:
        """``replace()`` where the engine has no REPLACE (PostgreSQL): an upsert on the
        primary key if the rows carry it, else on the first unique key they fill in, that
        overwrites every other inserted column. REPLACE also removes rows conflicting on
        other unique keys; an upsert can name one key only (docs/queries.md)."""
        meta = self.model._meta
        columns = self._normalise()[0] if self.from_query is None else list(self.columns)
        inserted = {field.column_name for field in columns}
        keys = [tuple(field.column_name for field in meta.primary_key_fields)] if meta.primary_key_fields else []
        keys += [key for key in meta.unique_keys() if key not in keys]
        target = next((key for key in keys if key and set(key) <= inserted), None)
        clone = self._clone()
        clone._replace = False
        if target is None:
            return clone  # nothing can conflict: a plain INSERT
        target_fields = [meta.columns[name] for name in target]
        preserve = [field for field in columns if field.column_name not in target]
        clone._on_conflict = None
        return Insert.on_conflict(clone, "update", target_fields, None, preserve, None)  # pyright: ignore[reportReturnType]  # returns a clone of clone

    def sql(self, dialect: Dialect | None = None) -> tuple[str, list[Any]]:
        dialect = dialect if dialect is not None else self._dialect()
        if self._replace and not dialect.replace_sql:
            return self._as_upsert().sql(dialect)
        self._check_conflict_target(dialect)
        if self.from_query is not None:
            return Insert.sql(self, dialect)
        columns, rows = self._normalise()
        return self._batch_query(columns, rows).sql(dialect)

    def _check_conflict_target(self, dialect: Dialect) -> None:
        on_conflict = self._on_conflict
        if on_conflict is None or not on_conflict.conflict_target or dialect.upsert_honours_conflict_target:
            return
        target = tuple(sorted(field.column_name for field in on_conflict.conflict_target))
        # Only unique keys whose every column this INSERT supplies can conflict (an
        # auto-increment key left to the server cannot).
        inserted = {field.column_name for field in self._normalise()[0]} if self.from_query is None else None
        keys = [
            tuple(sorted(key))
            for key in self.model._meta.unique_keys()
            if inserted is None or set(key) <= inserted or tuple(sorted(key)) == target
        ]
        if target not in keys:
            raise exceptions.NotSupportedError(
                f"{dialect.name}: conflict_target {list(target)} is not a unique key of "
                f"{self.model.__name__}; ON DUPLICATE KEY UPDATE can only react to unique keys"
            )
        if len(set(keys)) > 1:
            others = [list(key) for key in set(keys) if key != target]
            raise exceptions.NotSupportedError(
                f"{dialect.name} cannot limit an upsert to conflict_target {list(target)}: "
                f"ON DUPLICATE KEY UPDATE also fires on the other unique keys of "
                f"{self.model.__name__} {others}. Drop conflict_target to accept that, or use "
                "a separate SELECT/UPDATE."
            )

    def execute(self, database: Database | None = None) -> Any:
        """Run the insert. A single-row insert returns the new primary key; ``insert_many``
        returns the number of rows inserted; with ``returning()`` the returned rows."""
        self.model._meta.get_database().check_query(self)
        database = database or self._write_database()
        dialect = database.dialect
        if self._replace and not dialect.replace_sql:
            return self._as_upsert().execute(database)
        self._check_conflict_target(dialect)
        if (
            self._on_conflict is not None
            and self._on_conflict.conflict_target == ()
            and self._on_conflict.action != "ignore"
            and dialect.upsert_honours_conflict_target
        ):
            keys = self.model._meta.unique_keys()
            if len(keys) == 1:
                self._on_conflict.conflict_target = tuple(self.model._meta.primary_key_fields)
        meta = self.model._meta
        pk = meta.primary_key
        auto_pk = pk is not None and not meta.composite_key and pk.auto_increment
        wants_pk = self._single and auto_pk and not self._returning and self.from_query is None
        # An upsert may insert nothing (DO NOTHING) or update an existing row: lastrowid
        # would then be stale on SQLite, so the key comes back through RETURNING.
        pk_returned = wants_pk and (dialect.insert_returns_pk or (self._on_conflict is not None and dialect.returning))
        statements = self._statements(dialect, returning_pk=pk if pk_returned else None)
        if not statements:
            return [] if self._returning else 0
        if len(statements) == 1:
            return self._run(database, statements[0], wants_pk, pk_returned, dialect)
        total: Any = [] if self._returning else 0
        with database.atomic():
            for statement in statements:
                total += self._run(database, statement, False, False, dialect)
        return total

    def _run(
        self, database: Database, statement: tuple[str, list[Any]], wants_pk: bool, pk_returned: bool, dialect: Dialect
    ) -> Any:
        sql, params = statement
        cursor = database.execute_sql(sql, params)
        if write_listeners:  # events: caches (an upsert may change existing rows)
            notify_write(self.model, "insert", database, None, "query")
        if self._returning:
            return _returned_rows(self._returning, cursor, dialect)
        if wants_pk:
            if pk_returned:
                row = cursor.fetchone()
                return row[0] if row else None
            # 0 means no row was inserted (a MySQL upsert that ignored a duplicate).
            return database.last_insert_id(cursor) or None
        if self._single:
            pk = self.model._meta.primary_key
            if pk is not None and not self.model._meta.composite_key:
                for field, value in zip(*self._normalise_first()):
                    if field is pk:
                        return value
            return cursor.rowcount
        return cursor.rowcount

    def _normalise_first(self) -> tuple[list[Field[Any]], tuple[Any, ...]]:
        columns, rows = self._normalise()
        return columns, rows[0]


def copy_from(
    model: type[Model], rows: Iterable[Any], fields: Sequence[Any] | None = None, batch_size: int = 10_000
) -> int:
    """``Model.copy_from()``: stream ``rows`` into the table in batches, in one transaction.

    Each batch is normalised by ``ModelInsert`` (the same defaults, keys and errors as
    ``insert_many``) and its values go through the fields' adapters; the engine's bulk
    loader takes them where it has one (PostgreSQL's COPY), multi-row INSERTs elsewhere.
    """
    if isinstance(rows, (dict, Model)):
        raise DataError(f"copy_from() into {model.__name__} takes an iterable of rows, not one row")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size!r}")
    database = model._meta.get_database().route_write(model)
    dialect = database.dialect
    source = iter(rows)
    normalised = (
        ModelInsert(model, batch, fields=fields)._normalise()
        for batch in iter(lambda: list(itertools.islice(source, batch_size)), [])
    )
    total = 0
    with database.atomic():
        if database.has_copy:
            table = dialect.quote(model._meta.table_name)
            # COPY names its columns once: a run of batches with the same columns (rows of
            # one shape) is one COPY; a change of shape starts the next.
            for columns, run in itertools.groupby(normalised, key=lambda item: tuple(item[0])):
                if columns:
                    total += database.copy_rows(table, columns, (batch for _columns, batch in run))
                else:  # rows of defaults only: COPY needs a column; INSERT has DEFAULT VALUES
                    total += _insert_batches(model, database, run)
        else:
            total += _insert_batches(model, database, normalised)
    if write_listeners and total:  # events: caches
        notify_write(model, "insert", database, None, "query")
    return total


def _insert_batches(model: type[Model], database: Database, normalised: Iterable[Normalised]) -> int:
    total = 0
    for columns, batch in normalised:
        if batch:
            insert = ModelInsert(model, batch, fields=columns)
            insert.__dict__["_normalised"] = (columns, batch)
            total += insert.execute(database)
    return total


def _returned_rows(columns: Sequence[Node], cursor: Any, dialect: Dialect) -> list[Any]:
    rows = cursor.fetchall()
    converters = []
    for column in columns:
        _source, field = _column_owner(column)
        converters.append(field.python_converter(dialect) if field is not None else None)
    convert = _tuple_converter(converters)
    rows = convert(rows) if convert is not None else [tuple(row) for row in rows]
    if len(columns) == 1:
        return [row[0] for row in rows]
    return rows


def _estimated_bytes(sql: str, params: Sequence[Any]) -> int:
    size = len(sql)
    for value in params:
        if isinstance(value, (str, bytes)):
            size += 2 * len(value) + 3
        else:
            size += 24
    return size


class _ModelWriteWhere(_ModelWrite):
    """UPDATE and DELETE: ``filter(field__lookup=value)`` and a row count (or rows) back."""

    if TYPE_CHECKING:  # from Update and Delete
        _returning: tuple[Node, ...]

        def where(self, *conditions: Any) -> Self: ...

    def filter(self, **lookups: Any) -> Self:
        conditions = []
        for key, value in lookups.items():
            name, _, lookup = key.partition("__")
            conditions.append(_apply_lookup(_resolve_field(self.model, name), lookup or "exact", value, key))
        return self.where(*conditions)

    def execute(self, database: Database | None = None) -> Any:
        """Run it: the number of rows matched, or the rows ``returning()`` asked for."""
        self.model._meta.get_database().check_query(self)
        database = database or self._write_database()
        cursor = database.execute(self)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # self is an Update or a Delete
        if write_listeners:  # events: caches
            notify_write(self.model, "delete" if isinstance(self, Delete) else "update", database, None, "query")
        if self._returning:
            return _returned_rows(self._returning, cursor, database.dialect)
        return cursor.rowcount


class ModelUpdate(_ModelWriteWhere, Update):
    """UPDATE of a model's rows; a versioned model's version is bumped too."""

    def __init__(self, model: type[Model], assignments: dict[Any, Any]) -> None:
        pairs: list[tuple[Node, Node]] = []
        version = model._meta.version_field
        for key, value in assignments.items():
            field = _resolve_field(model, key)
            if isinstance(value, Model) and isinstance(field, ForeignKeyField):
                value = _loaded_value(value, field.rel_field.attr_key)
            pairs.append((field, _value_node(field, value)))
        if version is not None and all(field is not version for field, _ in pairs):
            pairs.append((version, version + 1))
        Update.__init__(self, model, pairs, None)
        self.model = model


class ModelDelete(_ModelWriteWhere, Delete):
    """DELETE of a model's rows."""

    def __init__(self, model: type[Model]) -> None:
        Delete.__init__(self, model, None)
        self.model = model
