"""A model's statements on its whole table, as ``Model`` class methods: INSERT/REPLACE,
UPDATE and DELETE builders, bulk loading, aliases for self-joins, full-text search
conditions (``Meta.search``), and the table's own DDL (create, drop, exists, indexes).

Reading rows (``select``, ``get``) and writing one instance (``create``, ``save``) stay in
``model.py``: they are the hot paths, and the state they touch lives there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from ..exceptions import ImproperlyConfigured
from ..sql.search import SearchMatch, SearchRank

# The builders below are defined in modules that import Model, which derives from this
# class: ``tinyorm.models.model`` imports them once Model exists, and the methods reach
# them through that module (partly initialised while this one runs, complete when called).
from . import model as _model

if TYPE_CHECKING:
    from typing_extensions import Self

    from ..indexes import Index
    from ..sql.search import Search
    from .aliases import ModelAlias
    from .metadata import Metadata
    from .select import ModelSelect
    from .writes import ModelDelete, ModelInsert, ModelUpdate


class TableStatements:
    """The class methods of ``Model`` that build statements on its table (see the module
    docstring); a base of ``Model`` only. They pass ``cls._meta.model``, which is ``cls``,
    where a model class is expected: type checkers know this class is not one."""

    __slots__ = ()
    # scripts/reference.py lists these methods on Model's page, where users look for them.
    _reference_in_subclasses = True

    if TYPE_CHECKING:
        _meta: ClassVar[Metadata]

        @classmethod
        def select(cls, *columns: Any) -> ModelSelect[Any]: ...  # Model.select, typed there

    @classmethod
    def alias(cls, name: str | None = None) -> ModelAlias:
        """An aliased copy of the table for self-joins: ``Parent = Category.alias()``."""
        return _model.ModelAlias(cls._meta.model, name)

    @classmethod
    def insert(cls, values: dict[Any, Any] | None = None, **kwargs: Any) -> ModelInsert:
        """``Model.insert(field=value, ...).execute()`` returns the new primary key."""
        row = dict(values or {})
        row.update(kwargs)
        return _model.ModelInsert(cls._meta.model, [row], single=True)

    @classmethod
    def insert_many(cls, rows: Any, fields: Any = None) -> ModelInsert:
        """Insert many rows: dicts, tuples (aligned with ``fields``) or model instances."""
        return _model.ModelInsert(cls._meta.model, rows, fields=fields)

    @classmethod
    def copy_from(cls, rows: Any, fields: Any = None, batch_size: int = 10_000) -> int:
        """Bulk-load ``rows`` (an iterable of dicts, or of tuples aligned with ``fields``),
        streamed ``batch_size`` rows at a time in one transaction; returns the number of
        rows loaded. Values are validated and converted as ``insert_many`` does (the same
        ``DataError``). PostgreSQL loads through ``COPY ... FROM STDIN``, the other engines
        through multi-row INSERTs; nothing is returned per row (no keys, no instances)."""
        return _model.copy_from(cls._meta.model, rows, fields, batch_size)

    @classmethod
    def replace(cls, values: dict[Any, Any] | None = None, **kwargs: Any) -> ModelInsert:
        """Like ``insert()``, but a row with the same primary or unique key is replaced:
        ``REPLACE`` on SQLite and MySQL, an upsert overwriting the row on PostgreSQL."""
        row = dict(values or {})
        row.update(kwargs)
        return _model.ModelInsert(cls._meta.model, [row], single=True).replace()

    @classmethod
    def replace_many(cls, rows: Any, fields: Any = None) -> ModelInsert:
        """``insert_many()`` with ``replace()``'s handling of rows whose key exists."""
        return _model.ModelInsert(cls._meta.model, rows, fields=fields).replace()

    @classmethod
    def insert_from(cls, query: Any, fields: Any) -> ModelInsert:
        """``INSERT INTO table (fields) SELECT ...``: copy the rows ``query`` selects into ``fields``."""
        return _model.ModelInsert(cls._meta.model, (), fields=fields, from_query=query)

    @classmethod
    def update(cls, values: dict[Any, Any] | None = None, **kwargs: Any) -> ModelUpdate:
        """``Model.update(field=value).where(...).execute()`` returns the rows matched."""
        assignments = dict(values or {})
        assignments.update(kwargs)
        return _model.ModelUpdate(cls._meta.model, assignments)

    @classmethod
    def delete(cls) -> ModelDelete:
        """``Model.delete().where(...).execute()`` returns the rows deleted."""
        return _model.ModelDelete(cls._meta.model)

    @classmethod
    def _search(cls) -> Search:
        search = cls._meta.search
        if search is None:
            raise ImproperlyConfigured(f"{cls.__name__} is not searchable: set Meta.search = Search(...)")
        return search

    @classmethod
    def match(cls, text: str) -> SearchMatch:
        """A condition: the row contains every word of ``text`` (``where(Entry.match(q))``).

        What users type is safe: only its words are used (see ``tinyorm.sql.search``).
        """
        return SearchMatch(cls._search(), text)

    @classmethod
    def search_rank(cls, text: str) -> SearchRank:
        """A relevance score for ``text``, higher for a better match: ``order_by(...desc())``."""
        return SearchRank(cls._search(), text)

    @classmethod
    def search(cls, text: str, *columns: Any) -> ModelSelect[Self]:
        """The rows matching ``text``, best match first (its score as ``.rank``)."""
        rank = cls.search_rank(text)
        return cls.select(*(columns or (cls,)), rank.alias("rank")).where(cls.match(text)).order_by(rank.desc())

    @classmethod
    def add_index(cls, index: Index) -> Index:
        """Add an index after the class is defined (``Index`` over expressions of its fields)."""
        cls._meta.add_index(index)
        return index

    @classmethod
    def table_exists(cls) -> bool:
        """True if the model's table exists on the database its writes are routed to."""
        database = cls._meta.get_database().route_write(cls._meta.model)
        return database.table_exists(cls._meta.table_name)

    @classmethod
    def create_table(cls, safe: bool = True) -> None:
        """Create the model's table and indexes (``safe``: leave an existing one alone)."""
        cls._meta.get_database().create_tables([cls._meta.model], safe=safe)

    @classmethod
    def drop_table(cls, safe: bool = True, cascade: bool = False) -> None:
        """Drop the model's table (``safe``: no error if absent; ``cascade``: PostgreSQL's CASCADE)."""
        cls._meta.get_database().drop_tables([cls._meta.model], safe=safe, cascade=cascade)

    @classmethod
    def bind(cls, database: Any) -> type[Self]:
        """Attach the model to ``database`` (a Database, Router or DatabaseProxy); returns the class."""
        cls._meta.set_database(database)
        return cls
