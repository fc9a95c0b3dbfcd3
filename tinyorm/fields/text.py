"""Text and bytes fields: CharField, TextField, UUIDField and BlobField."""

from __future__ import annotations

import decimal
import uuid
from typing import TYPE_CHECKING, Any, Callable, Literal, overload

from ..exceptions import DataError, ImproperlyConfigured
from .base import _T, Field

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ..dialects.base import Dialect
    from .base import Adapter, DialectCheck, _Options


# -- text ------------------------------------------------------------------------------------
class _TextBase(Field[_T]):
    def coerce(self, value: object) -> str:
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

    def _dialect_check(self, dialect: Dialect) -> DialectCheck | None:
        if dialect.text_allows_nul:
            return None
        check: DialectCheck = type(dialect).check_text.__get__(dialect)
        return check


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

    def coerce(self, value: object) -> str:
        value = _TextBase.coerce(self, value)
        if len(value) > self.max_length:
            raise DataError(
                f"{self.qualified_name}: {len(value)} characters is longer than max_length={self.max_length}"
            )
        return value

    def ddl_type(self, dialect: Dialect) -> str:
        """``VARCHAR(max_length)`` in the dialect's spelling."""
        return dialect.column_type("VARCHAR", max_length=self.max_length)

    def _build_adapter(self, dialect: Dialect) -> Adapter:
        slow = Field._build_adapter(self, dialect)
        max_length = self.max_length
        if not dialect.text_allows_nul:

            def adapt_nul_free(value: Any) -> Any:
                # The NUL check is one C-level scan (PostgreSQL cannot store NUL).
                if value.__class__ is str and len(value) <= max_length and value.isascii() and "\x00" not in value:
                    return value
                return slow(value)

            return adapt_nul_free

        def adapt(value: Any) -> Any:
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

    def _build_adapter(self, dialect: Dialect) -> Adapter:
        slow = Field._build_adapter(self, dialect)
        if not dialect.text_allows_nul:

            def adapt_nul_free(value: Any) -> Any:
                if value.__class__ is str and value.isascii() and "\x00" not in value:
                    return value
                return slow(value)

            return adapt_nul_free

        def adapt(value: Any) -> Any:
            if value.__class__ is str and value.isascii():
                return value
            return slow(value)

        return adapt


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

    def coerce(self, value: Any) -> uuid.UUID:
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

    def coerce(self, value: Any) -> bytes:
        if isinstance(value, bytes):
            return value
        if isinstance(value, (bytearray, memoryview)):
            return bytes(value)
        self._fail(value, "bytes")
