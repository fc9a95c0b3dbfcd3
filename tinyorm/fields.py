"""Field types: declaration, validation of Python values, and column references in SQL.

A field converts in two steps. ``coerce`` (engine-independent) checks a Python value and
returns its canonical form, raising ``DataError`` naming the field for one that does not fit
(never truncating or clamping). The dialect's ``to_driver`` adapter then turns the canonical
value into what the driver sends. ``adapter(dialect)`` composes both once per engine.
Reading goes the other way through the dialect's ``from_driver`` only where the driver's
value is not already right.
"""

from __future__ import annotations

import copy
import datetime
import decimal
import math
import uuid
from typing import TYPE_CHECKING, Any, Callable, Generic, Literal, TypeVar, overload

from .exceptions import DataError, ImproperlyConfigured
from .sql.json import JsonEquals, _JsonOperand
from .sql.nodes import SQL, Node, Operand

if TYPE_CHECKING:
    from typing_extensions import Self, TypedDict, Unpack

    from .models.model import Model

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

__all__ = [
    "Field",
    "AutoField",
    "BigAutoField",
    "IntegerField",
    "BigIntegerField",
    "SmallIntegerField",
    "FloatField",
    "DoubleField",
    "DecimalField",
    "CharField",
    "TextField",
    "BooleanField",
    "DateTimeField",
    "DateField",
    "TimeField",
    "UUIDField",
    "BlobField",
    "JSONField",
    "ForeignKeyField",
    "VersionField",
    "CompositeKey",
]

_MUTABLE_DEFAULTS = (dict, list, set, bytearray)
FK_ACTIONS = ("CASCADE", "SET NULL", "SET DEFAULT", "RESTRICT", "NO ACTION")

# A field caches its adapter and column text per dialect object (each Database owns one).
# Plain dicts keep the hot path at dict speed; the bound keeps a process that connects
# again and again (a Database per request or per test) from holding every old dialect: a
# full cache starts over, which only costs rebuilding a few entries.
PER_ENGINE_CACHE_SIZE = 16


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

    field_type: str | None = None
    auto_increment = False
    _creation_counter = 0

    def __init__(
        self,
        null=False,
        default=None,
        unique=False,
        index=False,
        primary_key=False,
        column_name=None,
        choices=None,
        constraints=None,
        old_name=None,
        help_text=None,
        server_default=None,
    ):
        self.null = null
        self.default = default
        self.unique = unique
        self.index = index
        self.primary_key = primary_key
        self.column_name = column_name
        self.choices = choices
        self.constraints = list(constraints or ())
        self.old_name = old_name
        self.help_text = help_text
        self.server_default = server_default
        self.model = None
        self.name = None
        Field._creation_counter += 1
        self._order = Field._creation_counter
        self._adapters = {}
        self._sql = {}

    def __repr__(self):
        if self.model is not None:
            return f"<{type(self).__name__} {self.model.__name__}.{self.name}>"
        return f"<{type(self).__name__} (unbound)>"

    # -- binding ---------------------------------------------------------------------------
    def bind(self, model, name):
        """Attach the field to ``model`` under attribute ``name`` (the metaclass calls this; the column name defaults to ``name``)."""
        self.model = model
        self.name = name
        if self.column_name is None:
            self.column_name = name
        self.attr_key = name
        self._sql = {}

    def clone_for(self, model):
        """An unbound copy for a subclass that inherits this field."""
        field = copy.copy(self)
        field.constraints = list(self.constraints)
        field._adapters = {}
        field._sql = {}
        field.model = None
        if self.column_name == self.name:
            field.column_name = None
        return field

    @property
    def qualified_name(self):
        """``Model.field`` as error messages name the field."""
        if self.model is None:
            return self.name or type(self).__name__
        return f"{self.model.__name__}.{self.name}"

    @property
    def has_default(self):
        """True if the field has a Python-side default (a value or a callable)."""
        return self.default is not None

    def get_default(self):
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
        # Only reached when the instance dict lacks the key: the field was not selected, or
        # the object was expired by a session. Values themselves live in ``__dict__``.
        if instance is None:
            return self
        return instance._load_missing(self)

    if TYPE_CHECKING:
        # Values live in the instance ``__dict__`` (no ``__set__`` at run time, so reads
        # stay plain dict lookups); this tells type checkers what an assignment may hold.
        def __set__(self, instance: object, value: _T) -> None: ...

    # -- values ----------------------------------------------------------------------------
    def _fail(self, value, expected):
        raise DataError(f"{self.qualified_name}: expected {expected}, got {value!r}")

    def coerce(self, value):
        """Validate a Python value; return its canonical form or raise DataError."""
        return value

    def adapter(self, dialect):
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

    def _build_adapter(self, dialect):
        coerce = self.coerce
        to_driver = dialect.to_driver.get(self.field_type)
        check = self._dialect_check(dialect)
        qualified_name = self.qualified_name

        if to_driver is None and check is None:

            def adapt(value):
                return None if value is None else coerce(value)
        else:

            def adapt(value):
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

    def _dialect_check(self, dialect):
        return None

    def db_value(self, value, dialect):
        """The driver value for ``value`` on ``dialect`` (validates first)."""
        return self.adapter(dialect)(value)

    def python_converter(self, dialect):
        """The function (driver value -> Python) for this field, or None if none is needed."""
        return dialect.from_driver.get(self.field_type)

    def python_value(self, value, dialect):
        """Convert ``value`` as read from ``dialect``'s driver to the field's Python type (None stays None)."""
        converter = self.python_converter(dialect)
        if value is None or converter is None:
            return value
        return converter(value)

    # -- DDL ---------------------------------------------------------------------------------
    def ddl_type(self, dialect):
        """The column type this field declares on ``dialect`` (``VARCHAR(50)``, ``NUMERIC(10,2)``, ...)."""
        return dialect.column_type(self.field_type)

    def cast_type(self, dialect):
        """The column's type as used in a CAST (auto-increment types are plain integers)."""
        field_type = {"AUTO": "INT", "BIGAUTO": "BIGINT"}.get(self.field_type)
        if field_type is not None:
            return dialect.column_type(field_type)
        return self.ddl_type(dialect)

    # -- SQL -------------------------------------------------------------------------------
    def _converter(self):
        return self

    def __sql__(self, ctx):
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

    __hash__ = Operand.__hash__


# -- integers ---------------------------------------------------------------------------------
class _IntegerBase(Field[_T]):
    bits = 32

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._low = -(2 ** (self.bits - 1))
        self._high = 2 ** (self.bits - 1) - 1

    def coerce(self, value):
        if type(value) is not int:
            if isinstance(value, int):  # bool and int subclasses
                value = int(value)
            elif isinstance(value, float):
                if not value.is_integer():
                    self._fail(value, "an integer (this float has a fraction)")
                value = int(value)
            elif isinstance(value, decimal.Decimal):
                if not value.is_finite():  # int() of these raises OverflowError/InvalidOperation
                    self._fail(value, "a finite integer")
                if value != value.to_integral_value():
                    self._fail(value, "an integer (this decimal has a fraction)")
                value = int(value)
            elif isinstance(value, str):
                try:
                    value = int(value.strip())
                except ValueError:
                    self._fail(value, "an integer")
            else:
                self._fail(value, "an integer")
        if value < self._low or value > self._high:
            raise DataError(
                f"{self.qualified_name}: {value} is out of range for a {self.bits}-bit integer "
                f"[{self._low}, {self._high}]"
            )
        return value

    def _build_adapter(self, dialect):
        slow = Field._build_adapter(self, dialect)
        low, high = self._low, self._high

        def adapt(value):
            # Fast path: a plain int in range needs no other work.
            if value.__class__ is int and low <= value <= high:
                return value
            return slow(value)

        return adapt


class IntegerField(_IntegerBase[_T]):
    """A 32-bit signed integer."""

    field_type = "INT"

    if TYPE_CHECKING:

        @overload
        def __init__(
            self: IntegerField[int],
            *,
            null: Literal[False] = False,
            default: int | Callable[[], int] | None = None,
            **options: Unpack[_Options],
        ) -> None: ...
        @overload
        def __init__(
            self: IntegerField[int | None],
            *,
            null: bool,
            default: int | None | Callable[[], int | None] | None = None,
            **options: Unpack[_Options],
        ) -> None: ...
        def __init__(self, *args: Any, **kwargs: Any) -> None: ...


class BigIntegerField(_IntegerBase[_T]):
    """A 64-bit signed integer."""

    field_type = "BIGINT"
    bits = 64

    if TYPE_CHECKING:

        @overload
        def __init__(
            self: BigIntegerField[int],
            *,
            null: Literal[False] = False,
            default: int | Callable[[], int] | None = None,
            **options: Unpack[_Options],
        ) -> None: ...
        @overload
        def __init__(
            self: BigIntegerField[int | None],
            *,
            null: bool,
            default: int | None | Callable[[], int | None] | None = None,
            **options: Unpack[_Options],
        ) -> None: ...
        def __init__(self, *args: Any, **kwargs: Any) -> None: ...


class SmallIntegerField(_IntegerBase[_T]):
    """A 16-bit signed integer."""

    field_type = "SMALLINT"
    bits = 16

    if TYPE_CHECKING:

        @overload
        def __init__(
            self: SmallIntegerField[int],
            *,
            null: Literal[False] = False,
            default: int | Callable[[], int] | None = None,
            **options: Unpack[_Options],
        ) -> None: ...
        @overload
        def __init__(
            self: SmallIntegerField[int | None],
            *,
            null: bool,
            default: int | None | Callable[[], int | None] | None = None,
            **options: Unpack[_Options],
        ) -> None: ...
        def __init__(self, *args: Any, **kwargs: Any) -> None: ...


class AutoField(IntegerField[int]):
    """An auto-incrementing integer primary key (the default ``id``)."""

    field_type = "AUTO"
    auto_increment = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("primary_key", True)
        super().__init__(*args, **kwargs)


class BigAutoField(BigIntegerField[int]):
    """An auto-incrementing 64-bit primary key."""

    field_type = "BIGAUTO"
    auto_increment = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("primary_key", True)
        super().__init__(*args, **kwargs)


class VersionField(BigIntegerField[int]):
    """A version counter for optimistic locking, managed by tinyorm (starts at 1)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("default", 1)
        super().__init__(*args, **kwargs)


# -- floating point and decimals ----------------------------------------------------------------
class FloatField(Field[_T]):
    """A double-precision float on every engine."""

    field_type = "FLOAT"

    if TYPE_CHECKING:

        @overload
        def __init__(
            self: FloatField[float],
            *,
            null: Literal[False] = False,
            default: float | Callable[[], float] | None = None,
            **options: Unpack[_Options],
        ) -> None: ...
        @overload
        def __init__(
            self: FloatField[float | None],
            *,
            null: bool,
            default: float | None | Callable[[], float | None] | None = None,
            **options: Unpack[_Options],
        ) -> None: ...
        def __init__(self, *args: Any, **kwargs: Any) -> None: ...

    def coerce(self, value):
        if type(value) is not float:
            if isinstance(value, bool):
                return float(value)
            if isinstance(value, float):
                value = float(value)
            elif isinstance(value, (int, decimal.Decimal, str)):
                try:
                    converted = float(value)
                except (ValueError, OverflowError):  # not a number; an int past 1.8e308
                    self._fail(value, "a number that fits a double")
                if not math.isfinite(converted) and (
                    isinstance(value, int)
                    or (isinstance(value, decimal.Decimal) and value.is_finite())
                    or _finite_text(value)
                ):
                    # 10**400, Decimal("1e400"), "1e400": finite numbers a double cannot hold
                    self._fail(value, "a number that fits a double (it would become infinity)")
                value = converted
            else:
                self._fail(value, "a number")
        if value == 0.0 and math.copysign(1.0, value) < 0:
            # No engine keeps the sign of a zero it is sent (SQL reads -0.0 as minus 0).
            raise DataError(f"{self.qualified_name}: -0.0 would be stored as 0.0 (engines drop the sign of zero)")
        return value

    def _dialect_check(self, dialect):
        if dialect.float_allows_nan and dialect.float_allows_infinity:
            return None
        return type(dialect).check_float.__get__(dialect)


def _finite_text(value):
    return isinstance(value, str) and value.strip().lower().lstrip("+-") not in ("inf", "infinity", "nan")


class DoubleField(FloatField[_T]):
    """Same as FloatField (double precision everywhere); kept for readability."""

    field_type = "DOUBLE"

    if TYPE_CHECKING:

        @overload
        def __init__(
            self: DoubleField[float],
            *,
            null: Literal[False] = False,
            default: float | Callable[[], float] | None = None,
            **options: Unpack[_Options],
        ) -> None: ...
        @overload
        def __init__(
            self: DoubleField[float | None],
            *,
            null: bool,
            default: float | None | Callable[[], float | None] | None = None,
            **options: Unpack[_Options],
        ) -> None: ...
        def __init__(self, *args: Any, **kwargs: Any) -> None: ...


class DecimalField(Field[_T]):
    """An exact decimal with ``max_digits`` in all and ``decimal_places`` after the point.

    A value with more places than declared is refused (engines would round it), unless
    ``auto_round=True`` asks for rounding half-even. On SQLite the digits are stored as text
    so none is lost; SQL comparisons there are textual (sort in Python, or cast, if needed).
    """

    field_type = "DECIMAL"

    @overload
    def __init__(
        self: DecimalField[decimal.Decimal],
        max_digits: int = 10,
        decimal_places: int = 5,
        auto_round: bool = False,
        *,
        null: Literal[False] = False,
        default: decimal.Decimal | Callable[[], decimal.Decimal] | None = None,
        **options: Unpack[_Options],
    ) -> None: ...
    @overload
    def __init__(
        self: DecimalField[decimal.Decimal | None],
        max_digits: int = 10,
        decimal_places: int = 5,
        auto_round: bool = False,
        *,
        null: bool,
        default: decimal.Decimal | None | Callable[[], decimal.Decimal | None] | None = None,
        **options: Unpack[_Options],
    ) -> None: ...
    def __init__(
        self, max_digits: int = 10, decimal_places: int = 5, auto_round: bool = False, *args: Any, **kwargs: Any
    ) -> None:
        if decimal_places > max_digits:
            raise ImproperlyConfigured("DecimalField: decimal_places cannot exceed max_digits")
        self.max_digits = max_digits
        self.decimal_places = decimal_places
        self.auto_round = auto_round
        super().__init__(*args, **kwargs)

    def coerce(self, value):
        if not isinstance(value, decimal.Decimal):
            if isinstance(value, bool):
                self._fail(value, "a decimal number")
            if isinstance(value, int):
                value = decimal.Decimal(value)
            elif isinstance(value, float):
                value = decimal.Decimal(repr(value))
            elif isinstance(value, str):
                try:
                    value = decimal.Decimal(value.strip())
                except decimal.InvalidOperation:
                    self._fail(value, "a decimal number")
            else:
                self._fail(value, "a decimal number")
        if not value.is_finite():
            self._fail(value, "a finite decimal number")
        if value.is_signed() and value.is_zero():
            raise DataError(f"{self.qualified_name}: {value} would be stored as 0 (engines drop the sign of zero)")
        exponent = value.as_tuple().exponent
        if -exponent > self.decimal_places:
            quantum = decimal.Decimal(1).scaleb(-self.decimal_places)
            rounded = value.quantize(quantum, rounding=decimal.ROUND_HALF_EVEN)
            if rounded != value and not self.auto_round:
                raise DataError(
                    f"{self.qualified_name}: {value} has more than {self.decimal_places} decimal "
                    "places and would be rounded"
                )
            value = rounded
        integer_digits = value.adjusted() + 1 if value else 1
        if integer_digits > self.max_digits - self.decimal_places:
            raise DataError(
                f"{self.qualified_name}: {value} does not fit DECIMAL({self.max_digits}, {self.decimal_places})"
            )
        if -value.as_tuple().exponent != self.decimal_places:
            # Stored at the declared scale on every engine, so 10.5 and 10.50 are one value
            # (SQLite keeps decimals as text, where they would differ). Exact: the digits fit.
            context = decimal.Context(prec=self.max_digits + 2)
            value = value.quantize(decimal.Decimal(1).scaleb(-self.decimal_places), context=context)
        return value

    def ddl_type(self, dialect):
        """``DECIMAL(max_digits, decimal_places)`` in the dialect's spelling."""
        return dialect.column_type("DECIMAL", max_digits=self.max_digits, decimal_places=self.decimal_places)


# -- text ------------------------------------------------------------------------------------
class _TextBase(Field[_T]):
    def coerce(self, value):
        if type(value) is not str:
            if isinstance(value, str):
                value = str(value)
            elif isinstance(value, (int, float, decimal.Decimal, uuid.UUID)) and not isinstance(value, bool):
                value = str(value)
            else:
                self._fail(value, "a string")
        if not value.isascii():
            # A lone surrogate cannot be stored as UTF-8 by any engine.
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise DataError(
                    f"{self.qualified_name}: text is not valid Unicode ({exc.reason} at {exc.start})"
                ) from None
        return value

    def _dialect_check(self, dialect):
        if dialect.text_allows_nul:
            return None
        return type(dialect).check_text.__get__(dialect)


class CharField(_TextBase[_T]):
    """A string of at most ``max_length`` characters; longer values are refused."""

    field_type = "VARCHAR"

    @overload
    def __init__(
        self: CharField[str],
        max_length: int = 255,
        *,
        null: Literal[False] = False,
        default: str | Callable[[], str] | None = None,
        **options: Unpack[_Options],
    ) -> None: ...
    @overload
    def __init__(
        self: CharField[str | None],
        max_length: int = 255,
        *,
        null: bool,
        default: str | None | Callable[[], str | None] | None = None,
        **options: Unpack[_Options],
    ) -> None: ...
    def __init__(self, max_length: int = 255, *args: Any, **kwargs: Any) -> None:
        if not isinstance(max_length, int) or max_length < 1:
            raise ImproperlyConfigured("CharField: max_length must be a positive integer")
        self.max_length = max_length
        super().__init__(*args, **kwargs)

    def coerce(self, value):
        value = _TextBase.coerce(self, value)
        if len(value) > self.max_length:
            raise DataError(
                f"{self.qualified_name}: {len(value)} characters is longer than max_length={self.max_length}"
            )
        return value

    def ddl_type(self, dialect):
        """``VARCHAR(max_length)`` in the dialect's spelling."""
        return dialect.column_type("VARCHAR", max_length=self.max_length)

    def _build_adapter(self, dialect):
        slow = Field._build_adapter(self, dialect)
        max_length = self.max_length
        if not dialect.text_allows_nul:

            def adapt(value):
                # The NUL check is one C-level scan (PostgreSQL cannot store NUL).
                if value.__class__ is str and len(value) <= max_length and value.isascii() and "\x00" not in value:
                    return value
                return slow(value)

            return adapt

        def adapt(value):
            # isascii() is O(1) in CPython; other text takes the slow path's UTF-8 check.
            if value.__class__ is str and len(value) <= max_length and value.isascii():
                return value
            return slow(value)

        return adapt


class TextField(_TextBase[_T]):
    """Unbounded text."""

    field_type = "TEXT"

    if TYPE_CHECKING:

        @overload
        def __init__(
            self: TextField[str],
            *,
            null: Literal[False] = False,
            default: str | Callable[[], str] | None = None,
            **options: Unpack[_Options],
        ) -> None: ...
        @overload
        def __init__(
            self: TextField[str | None],
            *,
            null: bool,
            default: str | None | Callable[[], str | None] | None = None,
            **options: Unpack[_Options],
        ) -> None: ...
        def __init__(self, *args: Any, **kwargs: Any) -> None: ...

    def _build_adapter(self, dialect):
        slow = Field._build_adapter(self, dialect)
        if not dialect.text_allows_nul:

            def adapt(value):
                if value.__class__ is str and value.isascii() and "\x00" not in value:
                    return value
                return slow(value)

            return adapt

        def adapt(value):
            if value.__class__ is str and value.isascii():
                return value
            return slow(value)

        return adapt


class BooleanField(Field[_T]):
    """``True``/``False``; stored as the engine's boolean (``BOOLEAN``, ``TINYINT(1)`` on MySQL, an integer on SQLite).

    Accepts only real booleans (and 0/1 read back from the engine): ``"false"`` is refused with ``DataError``, not taken as true.
    """

    field_type = "BOOL"

    if TYPE_CHECKING:

        @overload
        def __init__(
            self: BooleanField[bool],
            *,
            null: Literal[False] = False,
            default: bool | Callable[[], bool] | None = None,
            **options: Unpack[_Options],
        ) -> None: ...
        @overload
        def __init__(
            self: BooleanField[bool | None],
            *,
            null: bool,
            default: bool | None | Callable[[], bool | None] | None = None,
            **options: Unpack[_Options],
        ) -> None: ...
        def __init__(self, *args: Any, **kwargs: Any) -> None: ...

    def coerce(self, value):
        if value is True or value is False:
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        self._fail(value, "True or False")


# -- dates and times ---------------------------------------------------------------------------
class DateTimeField(Field[_T]):
    """A naive datetime with microseconds. Aware datetimes are refused: convert to UTC first."""

    field_type = "DATETIME"

    if TYPE_CHECKING:

        @overload
        def __init__(
            self: DateTimeField[datetime.datetime],
            *,
            null: Literal[False] = False,
            default: datetime.datetime | Callable[[], datetime.datetime] | None = None,
            **options: Unpack[_Options],
        ) -> None: ...
        @overload
        def __init__(
            self: DateTimeField[datetime.datetime | None],
            *,
            null: bool,
            default: datetime.datetime | None | Callable[[], datetime.datetime | None] | None = None,
            **options: Unpack[_Options],
        ) -> None: ...
        def __init__(self, *args: Any, **kwargs: Any) -> None: ...

    def coerce(self, value):
        if type(value) is not datetime.datetime:
            if isinstance(value, datetime.datetime):
                pass
            elif isinstance(value, datetime.date):
                value = datetime.datetime(value.year, value.month, value.day)
            elif isinstance(value, str):
                try:
                    value = datetime.datetime.fromisoformat(value.strip())
                except ValueError:
                    self._fail(value, "a datetime")
            else:
                self._fail(value, "a datetime")
        if value.tzinfo is not None:
            raise DataError(
                f"{self.qualified_name}: timezone-aware datetime {value!r}; DateTimeField stores "
                "naive datetimes (convert to UTC and drop tzinfo)"
            )
        return value

    def _build_adapter(self, dialect):
        slow = Field._build_adapter(self, dialect)
        to_driver = dialect.to_driver.get("DATETIME")
        datetime_class = datetime.datetime

        if to_driver is None:

            def adapt(value):
                if value.__class__ is datetime_class and value.tzinfo is None:
                    return value
                return slow(value)
        else:

            def adapt(value):
                if value.__class__ is datetime_class and value.tzinfo is None:
                    return to_driver(value)
                return slow(value)

        return adapt


class DateField(Field[_T]):
    """A ``datetime.date``. A ``datetime`` with a time part (or a time zone) is refused rather than truncated."""

    field_type = "DATE"

    if TYPE_CHECKING:

        @overload
        def __init__(
            self: DateField[datetime.date],
            *,
            null: Literal[False] = False,
            default: datetime.date | Callable[[], datetime.date] | None = None,
            **options: Unpack[_Options],
        ) -> None: ...
        @overload
        def __init__(
            self: DateField[datetime.date | None],
            *,
            null: bool,
            default: datetime.date | None | Callable[[], datetime.date | None] | None = None,
            **options: Unpack[_Options],
        ) -> None: ...
        def __init__(self, *args: Any, **kwargs: Any) -> None: ...

    def coerce(self, value):
        if isinstance(value, datetime.datetime):
            if value.time() != datetime.time(0) or value.tzinfo is not None:
                self._fail(value, "a date (this datetime has a time of day that would be lost)")
            return value.date()
        if isinstance(value, datetime.date):
            return value
        if isinstance(value, str):
            try:
                return datetime.date.fromisoformat(value.strip())
            except ValueError:
                pass
        self._fail(value, "a date")


class TimeField(Field[_T]):
    """A time of day with microseconds (naive)."""

    field_type = "TIME"

    if TYPE_CHECKING:

        @overload
        def __init__(
            self: TimeField[datetime.time],
            *,
            null: Literal[False] = False,
            default: datetime.time | Callable[[], datetime.time] | None = None,
            **options: Unpack[_Options],
        ) -> None: ...
        @overload
        def __init__(
            self: TimeField[datetime.time | None],
            *,
            null: bool,
            default: datetime.time | None | Callable[[], datetime.time | None] | None = None,
            **options: Unpack[_Options],
        ) -> None: ...
        def __init__(self, *args: Any, **kwargs: Any) -> None: ...

    def coerce(self, value):
        if isinstance(value, datetime.time):
            pass
        elif isinstance(value, str):
            try:
                value = datetime.time.fromisoformat(value.strip())
            except ValueError:
                self._fail(value, "a time")
        elif isinstance(value, datetime.timedelta) and datetime.timedelta(0) <= value < datetime.timedelta(days=1):
            value = (datetime.datetime.min + value).time()
        else:
            self._fail(value, "a time")
        if value.tzinfo is not None:
            self._fail(value, "a naive time")
        return value


# -- other types -------------------------------------------------------------------------------
class UUIDField(Field[_T]):
    """A ``uuid.UUID``; native ``UUID`` on PostgreSQL, ``CHAR(36)`` text elsewhere. Strings in UUID form are accepted."""

    field_type = "UUID"

    if TYPE_CHECKING:

        @overload
        def __init__(
            self: UUIDField[uuid.UUID],
            *,
            null: Literal[False] = False,
            default: uuid.UUID | Callable[[], uuid.UUID] | None = None,
            **options: Unpack[_Options],
        ) -> None: ...
        @overload
        def __init__(
            self: UUIDField[uuid.UUID | None],
            *,
            null: bool,
            default: uuid.UUID | None | Callable[[], uuid.UUID | None] | None = None,
            **options: Unpack[_Options],
        ) -> None: ...
        def __init__(self, *args: Any, **kwargs: Any) -> None: ...

    def coerce(self, value):
        if isinstance(value, uuid.UUID):
            return value
        if isinstance(value, str):
            try:
                return uuid.UUID(value)
            except ValueError:
                pass
        elif isinstance(value, bytes) and len(value) == 16:
            return uuid.UUID(bytes=value)
        self._fail(value, "a UUID")


class BlobField(Field[_T]):
    """Binary data (bytes, bytearray or memoryview in; bytes out)."""

    field_type = "BLOB"

    if TYPE_CHECKING:

        @overload
        def __init__(
            self: BlobField[bytes],
            *,
            null: Literal[False] = False,
            default: bytes | Callable[[], bytes] | None = None,
            **options: Unpack[_Options],
        ) -> None: ...
        @overload
        def __init__(
            self: BlobField[bytes | None],
            *,
            null: bool,
            default: bytes | None | Callable[[], bytes | None] | None = None,
            **options: Unpack[_Options],
        ) -> None: ...
        def __init__(self, *args: Any, **kwargs: Any) -> None: ...

    def coerce(self, value):
        if isinstance(value, bytes):
            return value
        if isinstance(value, (bytearray, memoryview)):
            return bytes(value)
        self._fail(value, "bytes")


class JSONField(Field[Any], _JsonOperand):
    """Any JSON-serialisable value; it round-trips by value. ``None`` is SQL NULL.

    ``Doc.data["user"]["name"]`` is a path into it (see ``sql/json.py`` and docs/json.md);
    ``Doc.data == {...}`` compares documents as JSON (a list is one value, not a row of
    values); ``has_key(k)`` and ``contains(value)`` (JSON containment) work on every engine.
    """

    field_type = "JSON"
    whole_values = True  # a list or tuple is one JSON value, not an IN-list or row value

    if TYPE_CHECKING:

        def __init__(self, *, null: bool = False, default: Any = None, **options: Unpack[_Options]) -> None: ...

    def _json_root_keys(self):
        return self, ()

    def __eq__(self, rhs):
        if rhs is None or isinstance(rhs, Node):
            return Field.__eq__(self, rhs)
        return JsonEquals(self, rhs)

    def __ne__(self, rhs):
        if rhs is None or isinstance(rhs, Node):
            return Field.__ne__(self, rhs)
        return JsonEquals(self, rhs, negated=True)

    __hash__ = Field.__hash__

    def coerce(self, value):
        return value

    def _build_adapter(self, dialect):
        adapt = Field._build_adapter(self, dialect)
        qualified_name = self.qualified_name

        def adapt_json(value):
            try:
                return adapt(value)
            except DataError:
                raise
            except (TypeError, ValueError) as exc:
                raise DataError(f"{qualified_name}: not JSON-serialisable: {exc}") from None

        return adapt_json


# The relation fields live in relations.py (one idea per module); they are re-exported
# here, so ``from tinyorm.fields import ForeignKeyField`` keeps working.
from .relations import CompositeKey, ForeignKeyField  # noqa: E402

# SQL is re-exported here for ``constraints=[SQL(...)]`` in field declarations.
__all__ += ["SQL"]
