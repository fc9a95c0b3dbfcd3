"""A bounded cache for everything tinyorm memoises on its hot paths.

Compiled statements, generated row constructors and converters are cached by the shape of
what they serve (never by the identity of a query object built per request), and every
cache is bounded: a long-running process that builds ever-new shapes (a report builder,
dynamic filters) keeps a fixed number of them.

A hit must cost what a dict lookup costs: ``get_by_id`` and every hydration look up two of
these caches, and a Python-level ``get`` that also kept the entries in recency order (an
LRU) added about 0.15 µs to each lookup, 10-15% of a whole get by key on SQLite. So hits
are plain ``dict.get``; only a miss runs Python code, and when the cache is full it drops
the entry inserted longest ago, as the standard library's ``re`` cache does. A shape still
in use that is dropped is rebuilt on its next miss, once per ``maxsize`` new shapes.
"""

from __future__ import annotations

from typing import Any, TypeVar

_K = TypeVar("_K")
_V = TypeVar("_V")

__all__ = ["BoundedCache"]


class BoundedCache(dict[_K, _V]):
    """A dict that keeps at most ``maxsize`` entries, dropping the oldest inserted first.

    Not locked: concurrent threads may both build an entry, and the last write wins, which
    is harmless for pure memoisation.
    """

    __slots__ = ("maxsize",)

    def __init__(self, maxsize: int) -> None:
        super().__init__()
        self.maxsize = maxsize

    def __setitem__(self, key: _K, value: _V) -> None:
        if key not in self and len(self) >= self.maxsize:
            try:
                del self[next(iter(self))]
            except (KeyError, StopIteration, RuntimeError):  # changed by another thread meanwhile
                pass
        super().__setitem__(key, value)

    def __reduce__(self) -> Any:
        return (type(self), (self.maxsize,))
