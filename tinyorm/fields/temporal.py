"""Date and time fields: DateTimeField, DateField and TimeField (naive values only)."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any, Callable, Literal, overload

from ..exceptions import DataError
from .base import _T, Field

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ..dialects.base import Dialect
    from .base import Adapter, _Options


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

    def coerce(self, value: object) -> datetime.datetime:
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

    def _build_adapter(self, dialect: Dialect) -> Adapter:
        slow = Field._build_adapter(self, dialect)
        to_driver = dialect.to_driver.get("DATETIME")
        datetime_class = datetime.datetime

        if to_driver is None:

            def adapt(value: Any) -> Any:
                if value.__class__ is datetime_class and value.tzinfo is None:
                    return value
                return slow(value)
        else:

            def adapt(value: Any) -> Any:
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

    def coerce(self, value: Any) -> datetime.date:
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

    def coerce(self, value: object) -> datetime.time:
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
