"""Full-text search: the declaration, a safe parser for what users type, and the nodes.

A model declares ``Meta.search = Search("title", "body")`` (or just ``("title", "body")``);
``create_tables`` and migrations build what each engine needs (see the dialects' search
hooks): an FTS5 table kept in sync by triggers on SQLite, a GIN index over a ``tsvector``
on PostgreSQL, a FULLTEXT index on MariaDB/MySQL.

What a user types is never handed to an engine's query language. ``search_terms`` keeps
the words (runs of letters and digits, lowercased) and drops everything else, so quotes,
operators (``-``, ``+``, ``*``, ``OR``, ``NEAR``, ``:``, parentheses) and stray punctuation
can neither cause a syntax error nor change what is asked: a row matches when it contains
every word. Each engine then writes the words in its own safe form (quoted FTS5 strings,
``plainto_tsquery``, ``+word`` in boolean mode). No word left means no row matches.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Iterable, Protocol

from ..exceptions import ImproperlyConfigured
from .nodes import Context, Operand

if TYPE_CHECKING:
    from ..fields.base import Field
    from ..models.model import Model

__all__ = ["Search", "SearchTable", "search_terms", "SearchMatch", "SearchRank"]

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
MAX_TERMS = 32
MAX_TERM_LENGTH = 64
_LANGUAGE = re.compile(r"^[a-z_]{1,63}$")


def search_terms(text: str) -> list[str]:
    """The words of ``text``: letters and digits, lowercased, at most 32 of at most 64
    characters each, in order and without repeats. Everything else is a separator."""
    if not isinstance(text, str):
        raise TypeError(f"search text must be a string, not {type(text).__name__}")
    terms: list[str] = []
    for word in _WORD.findall(text.lower()):
        word = word[:MAX_TERM_LENGTH]
        if word not in terms:
            terms.append(word)
        if len(terms) == MAX_TERMS:
            break
    return terms


class Search:
    """``Meta.search = Search("title", "body", language="english")``.

    ``fields`` are the text fields searched; ``language`` is PostgreSQL's text-search
    configuration (stemming and stop words; the other engines' full-text indexes have
    their own fixed rules); ``name`` names the index (or SQLite FTS5 table), by default
    ``<table>_search``.
    """

    def __init__(self, *fields: str | Field[Any], language: str = "english", name: str | None = None) -> None:
        if not fields:
            raise ImproperlyConfigured("Search() needs at least one field")
        if not _LANGUAGE.match(language):
            raise ImproperlyConfigured(f"Search(language={language!r}): not a text-search configuration name")
        self.field_names: tuple[str, ...] = tuple(field if isinstance(field, str) else field.name for field in fields)
        self.language = language
        self.name = name or ""  # "": named after the table when bound
        self.model: Any = None  # the model class, once bound
        self.fields: tuple[Field[Any], ...] = ()

    def bind(self, model: type[Model]) -> Search:
        """Resolve the field names against ``model`` (when the model class is built)."""
        from ..fields import CharField, TextField

        meta = model._meta
        fields: list[Field[Any]] = []
        for name in self.field_names:
            field = meta.fields.get(name)
            if field is None:
                raise ImproperlyConfigured(f"{model.__name__}.Meta.search names unknown field {name!r}")
            if not isinstance(field, (CharField, TextField)):
                raise ImproperlyConfigured(f"{model.__name__}.Meta.search: {name!r} is not a text field")
            fields.append(field)
        bound = Search(*self.field_names, language=self.language, name=self.name)
        bound.model = model
        bound.fields = tuple(fields)
        bound.name = self.name or f"{meta.table_name}_search"
        return bound

    # What the engines' DDL needs (a SearchTable names the same for migrations).
    @property
    def table(self) -> str:
        table: str = self.model._meta.table_name
        return table

    @property
    def columns(self) -> list[str]:
        return [field.column_name for field in self.fields]

    @property
    def rowid(self) -> str | None:
        """The integer primary key column (SQLite's FTS5 keys rows by it), or None."""
        meta = self.model._meta
        pk: Field[Any] | None = meta.primary_key
        if pk is None or meta.composite_key or pk.field_type not in ("AUTO", "BIGAUTO", "INT", "BIGINT"):
            return None
        return pk.column_name

    def __repr__(self) -> str:
        return f"Search{self.field_names!r}"


class SearchIndex(Protocol):
    """What the engines' full-text DDL reads: a bound ``Search`` or a ``SearchTable``."""

    @property
    def table(self) -> str: ...
    @property
    def columns(self) -> list[str]: ...
    @property
    def name(self) -> str: ...
    @property
    def language(self) -> str: ...
    @property
    def rowid(self) -> str | None: ...


class SearchTable:
    """A full-text index described by names alone (migrations have no model)."""

    def __init__(
        self,
        table: str,
        columns: Iterable[str],
        name: str | None = None,
        language: str = "english",
        rowid: str | None = "id",
    ) -> None:
        if not _LANGUAGE.match(language):
            raise ImproperlyConfigured(f"language={language!r}: not a text-search configuration name")
        self.table = table
        self.columns = list(columns)
        self.name = name or f"{table}_search"
        self.language = language
        self.rowid = rowid


class _SearchNode(Operand):
    """What a match and a rank share: the words, and what stands in when there are none."""

    __slots__ = ("search", "terms")
    nothing = ""  # SQL for text without a word
    hook = ""  # the dialect's render_* method name

    def __init__(self, search: Search, text: str) -> None:
        self.search = search
        self.terms = search_terms(text)

    def __sql__(self, ctx: Context) -> None:
        if not self.terms:
            ctx.literal(self.nothing)
            return
        getattr(ctx.dialect, self.hook)(ctx, self.search, self.terms)


class SearchMatch(_SearchNode):
    """``Entry.match("user's words")``: rows containing every word."""

    __slots__ = ()
    nothing = "(1 = 0)"
    hook = "render_search_match"


class SearchRank(_SearchNode):
    """``Entry.search_rank("words")``: a relevance score, higher for a better match (NULL, or
    0 on some engines, for a row that does not match). Scores compare within one query on
    one engine only."""

    __slots__ = ()
    nothing = "COALESCE(NULL, 0)"  # not a bare constant: ORDER BY 0 names a column
    hook = "render_search_rank"
