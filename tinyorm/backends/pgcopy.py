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


def _text(value):
    # str.replace is a C loop per call: four of them beat one translate() on short strings.
    if "\\" in value:
        value = value.replace("\\", "\\\\")
    return value.replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _float(value):
    if math.isfinite(value):
        return repr(value)  # the shortest text that reads back as the same double
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def _decimal(value):
    if value.is_nan():
        return "NaN"
    if value.is_infinite():
        return "Infinity" if value > 0 else "-Infinity"
    return str(value)


def _bytes(value):
    return "\\\\x" + bytes(value).hex()


def _interval(value):
    # days, seconds and microseconds as they are: no rounding through a float.
    return f"{value.days} days {value.seconds} seconds {value.microseconds} microseconds"


_ENCODERS = {
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


def encode_value(value):
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


def _text_of(value):
    return _text(str(value))


def encode_rows(rows, adapters):
    """The COPY text of ``rows`` (tuples of Python values), each value through its column's
    adapter (None: taken as it is) and then encoded."""
    encode = encode_value
    lines = []
    append = lines.append
    for row in rows:
        append("\t".join([encode(value if adapt is None else adapt(value)) for adapt, value in zip(adapters, row)]))
    if not lines:
        return ""
    return "\n".join(lines) + "\n"


class CopySource:
    """The file-like object ``cursor.copy_expert`` reads: each ``read()`` encodes the next
    batch of rows, so the whole load is never held in memory. An error raised while
    encoding (a value its field refuses) is kept to be raised again once the driver has
    aborted the COPY."""

    def __init__(self, batches, adapters):
        self._batches = iter(batches)
        self._adapters = adapters
        self.error = None
        self.rows = 0

    def read(self, size=-1):
        try:
            for rows in self._batches:
                text = encode_rows(rows, self._adapters)
                self.rows += len(rows)
                if text:
                    return text
        except Exception as exc:  # a row its model or field refused
            self.error = exc
            raise
        return ""

    readline = read
