"""Indexes beyond a list of columns: an index method, a partial index, expressions.

    class Doc(Model):
        data = JSONField()
        deleted = DateTimeField(null=True)
        class Meta:
            indexes = (
                Index("data", method="gin"),                        # PostgreSQL's GIN
                Index("created", where=SQL("deleted IS NULL")),     # partial
            )

    Doc.add_index(Index(Doc.data["user"]["name"].as_text(), name="doc_user_name"))  # expression

Expressions and ``where`` conditions compile per engine like any query, then their values
are written into the DDL as quoted literals (CREATE INDEX takes no parameters), so a JSON
key or a string in a condition is quoted, never pasted. An engine that lacks what an index
needs (a method, partial indexes, expression indexes) refuses it with NotSupportedError
when the index is created, unless it was declared ``required=False``: then that engine goes
without it.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from .exceptions import ImproperlyConfigured, NotSupportedError
from .fields import Field
from .sql.inline import render_inline
from .sql.nodes import Node

if TYPE_CHECKING:
    from .dialects.base import Dialect
    from .models.model import Model

__all__ = ["Index", "BoundIndex", "INDEX_METHODS"]

# Index methods tinyorm knows; each dialect says which of them it has (``index_methods``).
INDEX_METHODS = ("btree", "hash", "gin", "gist", "brin", "spgist")


class Index:
    """An index declared in ``Meta.indexes`` or with ``Model.add_index``.

    ``parts`` are field names, fields, or expressions (any node: ``fn.LOWER(User.email)``,
    a JSON path). ``method`` is an index method (``"gin"``, ``"gist"``, ``"hash"``,
    ``"brin"``, ``"btree"``); ``where`` a condition making it partial; ``required=False``
    lets an engine lacking a feature go without the index instead of refusing it.
    """

    def __init__(
        self,
        *parts: str | Field[Any] | Node,
        unique: bool = False,
        name: str | None = None,
        method: str | None = None,
        where: Node | None = None,
        required: bool = True,
    ) -> None:
        if not parts:
            raise ImproperlyConfigured("Index() needs at least one column or expression")
        if method is not None and method.lower() not in INDEX_METHODS:
            raise ImproperlyConfigured(f"Index(method={method!r}): known methods are {', '.join(INDEX_METHODS)}")
        self.parts = parts
        self.unique = bool(unique)
        self.name = name
        self.method = method.lower() if method else None
        self.where = where
        self.required = required

    def bind(self, model: type[Model]) -> BoundIndex:
        """Resolve field names against ``model``: a ``BoundIndex``."""
        meta = model._meta
        resolved: list[Field[Any] | Node] = []
        for part in self.parts:
            if isinstance(part, str):
                field = meta.fields.get(part) or meta.columns.get(part)
                if field is None:
                    raise ImproperlyConfigured(f"{meta.name}.Meta.indexes names unknown field {part!r}")
                resolved.append(field)
            elif isinstance(part, Node) or hasattr(part, "__sql__"):
                resolved.append(part)
            else:
                raise ImproperlyConfigured(f"{meta.name}: Index part {part!r} is not a field or an expression")
        return BoundIndex(self, model, resolved)

    def __repr__(self) -> str:
        return f"Index{self.parts!r}"


class BoundIndex:
    """An Index of one model: its name, its SQL per engine."""

    def __init__(self, index: Index, model: type[Model], parts: list[Field[Any] | Node]) -> None:
        self.index = index
        self.model = model
        self.table = model._meta.table_name
        self.parts = parts
        self.unique = index.unique
        self.method = index.method
        self.where = index.where
        self.required = index.required
        self.columns = [part.column_name if isinstance(part, Field) else None for part in parts]
        self.plain = self.method is None and self.where is None and None not in self.columns
        self.name = index.name or self._default_name()

    def _default_name(self) -> str:
        from .schema import index_name

        if self.plain:
            # plain: no None among the columns
            return index_name(self.table, self.columns)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
        # The definition's digest is in the name: a changed definition is a new index to
        # autogenerate (compiled with SQLite's rules, so the name is the same everywhere).
        from .dialects import SqliteDialect

        definition = repr(
            (self._parts_sql(SqliteDialect()), self.method, self.unique, self._where_sql(SqliteDialect()))
        )
        digest = hashlib.md5(definition.encode("utf-8")).hexdigest()[:8]
        label = "_".join(column or "expr" for column in self.columns)
        return index_name(self.table, [f"{label}_{digest}"])

    def _parts_sql(self, dialect: Dialect) -> list[str]:
        rendered = []
        for part in self.parts:
            if isinstance(part, Field):
                rendered.append(dialect.index_column_sql(part.column_name, part.field_type))
            else:
                # Parenthesised: PostgreSQL and MySQL take an expression only as ``(expr)``.
                rendered.append("(" + render_inline(part, dialect) + ")")
        return rendered

    def _where_sql(self, dialect: Dialect) -> str | None:
        return None if self.where is None else render_inline(self.where, dialect)

    def unsupported(self, dialect: Dialect) -> str | None:
        """Why ``dialect`` cannot build this index (None if it can)."""
        if self.method is not None and self.method not in dialect.index_methods:
            return f"{dialect.name} has no {self.method!r} index method"
        if self.where is not None and not dialect.supports_partial_indexes:
            return f"{dialect.name} has no partial indexes (where=)"
        if None in self.columns and not dialect.supports_expression_indexes:
            return f"{dialect.name} cannot index an expression"
        return None

    def create_sql(self, dialect: Dialect, safe: bool = True) -> str | None:
        """The CREATE INDEX statement, or None where the engine goes without it."""
        reason = self.unsupported(dialect)
        if reason is not None:
            if self.required:
                raise NotSupportedError(f"index {self.name} on {self.table}: {reason} (declare it required=False)")
            return None
        return dialect.create_index_sql(
            self.table,
            self.name,
            None,
            self.unique,
            safe,
            parts_sql=self._parts_sql(dialect),
            method=self.method,
            where_sql=self._where_sql(dialect),
        )
