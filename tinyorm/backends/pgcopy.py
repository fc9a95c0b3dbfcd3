"""PostgreSQL's ``COPY ... FROM STDIN`` text format, produced as the server reads it.

A row is its column values separated by tabs and ended by a newline. Backslash starts an
escape, so a value's own backslashes, tabs, newlines and carriage returns are escaped; NULL
is ``\\N``; bytea travels as ``\\x`` + hex (its backslash escaped in turn). Values arrive
already validated and converted by their fields' adapters (text holding NUL has been refused
there, as for any PostgreSQL insert), so only the types those adapters produce are handled.
"""

from __future__ import annotations

import datetime
import decimal
import math
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

if TYPE_CHECKING:
    from ..fields import Field

    # A batch of row tuples -> their lines of COPY text.
    RowsEncoder = Callable[[list[tuple[Any, ...]]], str]


def _text(value: str) -> str:
    # Most text has none of the four characters: two C-level checks and out. (\t, \n and
    # \r are not printable; other unprintable characters just take the slower path.)
    if "\\" in value:
        value = value.replace("\\", "\\\\")
    elif value.isprintable():
        return value
    return value.replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _float(value: float) -> str:
    if math.isfinite(value):
        return repr(value)  # the shortest text that reads back as the same double
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def _decimal(value: decimal.Decimal) -> str:
    if value.is_nan():
        return "NaN"
    if value.is_infinite():
        return "Infinity" if value > 0 else "-Infinity"
    return str(value)


def _bytes(value: bytes | bytearray | memoryview) -> str:
    return "\\\\x" + bytes(value).hex()


def _interval(value: datetime.timedelta) -> str:
    # days, seconds and microseconds as they are: no rounding through a float.
    return f"{value.days} days {value.seconds} seconds {value.microseconds} microseconds"


_ENCODERS: dict[type, Callable[[Any], str]] = {
    str: _text,
    int: str,
    bool: lambda value: "t" if value else "f",
    float: _float,
    decimal.Decimal: _decimal,
    bytes: _bytes,
    bytearray: _bytes,
    memoryview: _bytes,
    datetime.datetime: datetime.datetime.isoformat,
    datetime.date: datetime.date.isoformat,
    datetime.time: datetime.time.isoformat,
    datetime.timedelta: _interval,
}


def encode_value(value: Any) -> str:
    """One value in COPY text format (``\\N`` for None)."""
    if value is None:
        return "\\N"
    encoder = _ENCODERS.get(type(value))
    if encoder is None:
        for kind, candidate in _ENCODERS.items():
            if isinstance(value, kind):
                encoder = candidate
                break
        else:
            encoder = _text_of  # e.g. an enum or a str subclass's str()
    return encoder(value)


def _text_of(value: object) -> str:
    return _text(str(value))


# Encoders for the values a field type's adapter produces, skipping the per-value dispatch.
_FIELD_ENCODERS: dict[str | None, Callable[[Any], str]] = {
    "VARCHAR": _text,
    "TEXT": _text,
    "INT": str,
    "BIGINT": str,
    "SMALLINT": str,
}


def rows_encoder(fields: Sequence[Field[Any]], adapters: Sequence[Callable[[Any], Any]]) -> RowsEncoder:
    """A function turning a list of row tuples into their COPY text: each value through its
    column's adapter (validation and conversion, as for INSERT), then encoded.

    Generated once per COPY (one line of source per column), like the hydrators, so the
    per-row work is one f-string: no call per value beyond the adapter and the encoder.
    """
    namespace: dict[str, Any] = {"NULL": "\\N"}
    parts = []
    for index, (field, adapt) in enumerate(zip(fields, adapters)):
        namespace[f"a{index}"] = adapt
        namespace[f"e{index}"] = _FIELD_ENCODERS.get(field.field_type, encode_value)
        parts.append(f"{{NULL if v{index} is None else e{index}(a{index}(v{index}))}}")
    names = ", ".join(f"v{index}" for index in range(len(fields))) + ","
    line = "\\t".join(parts)
    source = f'def encode(rows):\n    return "".join([f"{line}\\n" for {names} in rows])\n'
    exec(source, namespace)  # noqa: S102 - generated from column positions only
    encode: RowsEncoder = namespace["encode"]
    return encode


class CopySource:
    """The file-like object ``cursor.copy_expert`` reads: each ``read()`` encodes the next
    batch of rows, so the whole load is never held in memory. An error raised while
    producing or encoding a batch (a row or value refused) is kept to be raised again once
    the driver has aborted the COPY."""

    def __init__(self, batches: Iterable[list[tuple[Any, ...]]], encode: RowsEncoder) -> None:
        self._batches = iter(batches)
        self._encode = encode
        self.error: Exception | None = None
        self.rows = 0

    def read(self, size: int = -1) -> str:
        try:
            for rows in self._batches:
                text = self._encode(rows)
                self.rows += len(rows)
                if text:
                    return text
        except Exception as exc:
            self.error = exc
            raise
        return ""

    readline = read
