"""The Field base class: options, defaults, the per-engine adapter and column-text caches,
and how a field renders as a column reference in SQL (see the package docstring).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any, Callable, Generic, Iterable, NoReturn, TypeVar, overload

from ..exceptions import DataError
from ..sql.nodes import Operand

if TYPE_CHECKING:
    from typing_extensions import Self, TypedDict

    from ..dialects.base import Dialect
    from ..models.model import Model
    from ..sql.nodes import Context

    class _KeyOptions(TypedDict, total=False):
        """The options every field takes besides ``null``, ``default`` and ``column_name``."""

        unique: bool
        index: bool
        primary_key: bool
        choices: Any
        constraints: Any
        old_name: str | None
        help_text: str | None
        server_default: Any

    class _Options(_KeyOptions, total=False):
        column_name: str | None


# The Python value an instance attribute holds: ``CharField()`` is a ``CharField[str]``,
# ``CharField(null=True)`` a ``CharField[str | None]`` (the overloads of each field's
# ``__init__``). Type checkers only: at run time the fields are what they always were.
_T = TypeVar("_T")
_M = TypeVar("_M", bound="Model")

_MUTABLE_DEFAULTS = (dict, list, set, bytearray)
FK_ACTIONS = ("CASCADE", "SET NULL", "SET DEFAULT", "RESTRICT", "NO ACTION")

# A field caches its adapter and column text per dialect object (each Database owns one).
# Plain dicts keep the hot path at dict speed; the bound keeps a process that connects
# again and again (a Database per request or per test) from holding every old dialect: a
# full cache starts over, which only costs rebuilding a few entries.
PER_ENGINE_CACHE_SIZE = 16

# A value's conversion on one engine: Python value -> driver value (or the reverse).
Adapter = Callable[[Any], Any]
# An engine's extra check of a coerced value (``Dialect.check_text``): (field, value) -> value.
DialectCheck = Callable[["Field[Any]", Any], Any]

# ``model`` and ``name`` are None until ``bind()`` (and ``field_type`` on the abstract base):
# they are typed as every field a query or an instance meets has them, and this Any-typed
# None says so without a cast.
_UNBOUND: Any = None


class Field(Operand, Generic[_T]):
    """A column of a model. Options shared by every field:

    ``null`` (allow NULL), ``default`` (a value or a callable), ``unique``, ``index``,
    ``primary_key``, ``column_name`` (defaults to the attribute name), ``choices``
    (metadata for forms and docs), ``constraints`` (extra SQL after the column type, e.g.
    ``[SQL("CHECK (price > 0)")]``), ``old_name`` (the column's previous name, so a
    migration renames it instead of dropping it), ``server_default`` (a default the
    database applies: a constant, or ``SQL("CURRENT_TIMESTAMP")``; a new object whose value
    was never set leaves the column out of its INSERT so the server fills it).
    """

    field_type: str = _UNBOUND  # the abstract column type ("VARCHAR"); every concrete field sets it
    auto_increment = False
    _creation_counter = 0

    def __init__(
        self,
        null: bool = False,
        default: Any = None,
        unique: bool = False,
        index: bool = False,
        primary_key: bool = False,
        column_name: str | None = None,
        choices: Any = None,
        constraints: Iterable[Any] | None = None,
        old_name: str | None = None,
        help_text: str | None = None,
        server_default: Any = None,
    ) -> None:
        self.null = null
        self.default = default
        self.unique = unique
        self.index = index
        self.primary_key = primary_key
        # None until bind() fills in the attribute name; typed as bound, like ``model``
        self.column_name: str = column_name  # type: ignore[assignment]  # pyright: ignore[reportAttributeAccessIssue]
        self.choices = choices
        self.constraints = list(constraints or ())
        self.old_name = old_name
        self.help_text = help_text
        self.server_default = server_default
        self.model: type[Model] = _UNBOUND
        self.name: str = _UNBOUND
        Field._creation_counter += 1
        self._order = Field._creation_counter
        self._adapters: dict[Dialect, Adapter] = {}
        self._sql: dict[tuple[Dialect, bool], str] = {}

    def __repr__(self) -> str:
        if self.model is not None:
            return f"<{type(self).__name__} {self.model.__name__}.{self.name}>"
        return f"<{type(self).__name__} (unbound)>"

    # -- binding ---------------------------------------------------------------------------
    def bind(self, model: type[Model], name: str) -> None:
        """Attach the field to ``model`` under attribute ``name`` (the metaclass calls this; the column name defaults to ``name``)."""
        self.model = model
        self.name = name
        if self.column_name is None:
            self.column_name = name
        self.attr_key = self.attr_key_for(name)
        self._sql = {}

    def attr_key_for(self, name: str) -> str:
        """The instance attribute holding the value of this field when bound as ``name``
        (the metaclass needs it before binding, to lay out the instance's slots)."""
        return name

    def clone_for(self, model: type[Model] | None) -> Self:
        """An unbound copy for a subclass that inherits this field."""
        field = copy.copy(self)
        field.constraints = list(self.constraints)
        field._adapters = {}
        field._sql = {}
        field.model = _UNBOUND
        if self.column_name == self.name:
            field.column_name = _UNBOUND
        return field

    @property
    def qualified_name(self) -> str:
        """``Model.field`` as error messages name the field."""
        if self.model is None:
            return self.name or type(self).__name__
        return f"{self.model.__name__}.{self.name}"

    @property
    def has_default(self) -> bool:
        """True if the field has a Python-side default (a value or a callable)."""
        return self.default is not None

    def get_default(self) -> Any:
        """The default for a new instance: the callable's result, a copy of a mutable value, or the value."""
        default = self.default
        if callable(default):
            return default()
        if isinstance(default, _MUTABLE_DEFAULTS):
            return copy.deepcopy(default)
        return default

    # -- descriptor ------------------------------------------------------------------------
    # On the class the field itself (``User.username == "x"`` is an expression); on an
    # instance its value.
    @overload
    def __get__(self, instance: None, owner: Any) -> Self: ...
    @overload
    def __get__(self, instance: object, owner: Any) -> _T: ...
    def __get__(self, instance: Any, owner: Any) -> Any:
        # Values live in slots (models/metadata.py lays them out), so on an instance this is
        # reached only for a field kept in the class under a name other than its slot's;
        # an empty slot (not selected, expired by a session) loads through _load_missing.
        if instance is None:
            return self
        return instance._load_missing(self)

    if TYPE_CHECKING:
        # Values live in the instance's slots (no ``__set__`` here at run time: the slot's
        # own descriptor stores them); this tells type checkers what an assignment may hold.
        def __set__(self, instance: object, value: _T) -> None: ...

    # -- values ----------------------------------------------------------------------------
    def _fail(self, value: Any, expected: str) -> NoReturn:
        raise DataError(f"{self.qualified_name}: expected {expected}, got {value!r}")

    def coerce(self, value: Any) -> Any:
        """Validate a Python value; return its canonical form or raise DataError."""
        return value

    def adapter(self, dialect: Dialect) -> Adapter:
        """The function (value -> driver value) for this field on one engine."""
        try:
            return self._adapters[dialect]
        except KeyError:
            pass
        adapt = self._build_adapter(dialect)
        if len(self._adapters) >= PER_ENGINE_CACHE_SIZE:
            self._adapters.clear()  # bounded: see PER_ENGINE_CACHE_SIZE
        self._adapters[dialect] = adapt
        return adapt

    def _build_adapter(self, dialect: Dialect) -> Adapter:
        coerce = self.coerce
        to_driver = dialect.to_driver.get(self.field_type)
        check = self._dialect_check(dialect)
        qualified_name = self.qualified_name

        if to_driver is None and check is None:

            def adapt(value: Any) -> Any:
                return None if value is None else coerce(value)
        else:

            def adapt(value: Any) -> Any:
                if value is None:
                    return None
                value = coerce(value)
                if check is not None:
                    value = check(self, value)
                if to_driver is None:
                    return value
                try:
                    return to_driver(value)
                except (TypeError, ValueError) as exc:
                    raise DataError(f"{qualified_name}: cannot store {value!r}: {exc}") from None

        return adapt

    def _dialect_check(self, dialect: Dialect) -> DialectCheck | None:
        return None

    def db_value(self, value: Any, dialect: Dialect) -> Any:
        """The driver value for ``value`` on ``dialect`` (validates first)."""
        return self.adapter(dialect)(value)

    def python_converter(self, dialect: Dialect) -> Adapter | None:
        """The function (driver value -> Python) for this field, or None if none is needed."""
        return dialect.from_driver.get(self.field_type)

    def python_value(self, value: Any, dialect: Dialect) -> Any:
        """Convert ``value`` as read from ``dialect``'s driver to the field's Python type (None stays None)."""
        converter = self.python_converter(dialect)
        if value is None or converter is None:
            return value
        return converter(value)

    # -- DDL ---------------------------------------------------------------------------------
    def ddl_type(self, dialect: Dialect) -> str:
        """The column type this field declares on ``dialect`` (``VARCHAR(50)``, ``NUMERIC(10,2)``, ...)."""
        return dialect.column_type(self.field_type)

    def cast_type(self, dialect: Dialect) -> str:
        """The column's type as used in a CAST (auto-increment types are plain integers)."""
        field_type = {"AUTO": "INT", "BIGAUTO": "BIGINT"}.get(self.field_type)
        if field_type is not None:
            return dialect.column_type(field_type)
        return self.ddl_type(dialect)

    # -- SQL -------------------------------------------------------------------------------
    def _converter(self) -> Self:
        return self

    def __sql__(self, ctx: Context) -> None:
        # Column text is cached per engine; a table alias (self-joins) goes through FieldAlias.
        key = (ctx.dialect, ctx.qualify)
        try:
            text = self._sql[key]
        except KeyError:
            quoted_column = ctx.quoted(self.column_name)
            if ctx.qualify:
                text = ctx.quoted(self.model._meta.table_name) + "." + quoted_column
            else:
                text = quoted_column
            if len(self._sql) >= PER_ENGINE_CACHE_SIZE:
                self._sql.clear()  # bounded: see PER_ENGINE_CACHE_SIZE
            self._sql[key] = text
        ctx.parts.append(text)

    def _sql_shape(self, params: list[Any]) -> Any:
        """The shape ``__sql__`` renders (see ``sql/shapes.py``): the column of a model's table."""
        return (self.model, self.column_name)

    __hash__ = Operand.__hash__
