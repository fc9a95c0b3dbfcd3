"""Number fields: integers (with the auto-increment and version keys), floats, decimals and booleans."""

from __future__ import annotations

import decimal
import math
from typing import TYPE_CHECKING, Any, Callable, Literal, overload

from ..exceptions import DataError, ImproperlyConfigured
from .base import _T, Field

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ..dialects.base import Dialect
    from .base import Adapter, DialectCheck, _Options


# -- integers ---------------------------------------------------------------------------------
class _IntegerBase(Field[_T]):
    bits = 32

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._low = -(2 ** (self.bits - 1))
        self._high = 2 ** (self.bits - 1) - 1

    def coerce(self, value: object) -> int:
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

    def _build_adapter(self, dialect: Dialect) -> Adapter:
        slow = Field._build_adapter(self, dialect)
        low, high = self._low, self._high

        def adapt(value: Any) -> Any:
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

    def coerce(self, value: object) -> float:
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

    def _dialect_check(self, dialect: Dialect) -> DialectCheck | None:
        if dialect.float_allows_nan and dialect.float_allows_infinity:
            return None
        check: DialectCheck = type(dialect).check_float.__get__(dialect)
        return check


def _finite_text(value: object) -> bool:
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

    def coerce(self, value: object) -> decimal.Decimal:
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
        # A finite decimal's exponent is an int (the 'n'/'N'/'F' of NaN and infinity are refused above).
        exponent = value.as_tuple().exponent
        if -exponent > self.decimal_places:  # type: ignore[operator]  # pyright: ignore[reportOperatorIssue]
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
        if -value.as_tuple().exponent != self.decimal_places:  # type: ignore[operator]  # pyright: ignore[reportOperatorIssue]
            # Stored at the declared scale on every engine, so 10.5 and 10.50 are one value
            # (SQLite keeps decimals as text, where they would differ). Exact: the digits fit.
            context = decimal.Context(prec=self.max_digits + 2)
            value = value.quantize(decimal.Decimal(1).scaleb(-self.decimal_places), context=context)
        return value

    def ddl_type(self, dialect: Dialect) -> str:
        """``DECIMAL(max_digits, decimal_places)`` in the dialect's spelling."""
        return dialect.column_type("DECIMAL", max_digits=self.max_digits, decimal_places=self.decimal_places)


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

    def coerce(self, value: object) -> bool:
        if value is True or value is False:
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        self._fail(value, "True or False")
