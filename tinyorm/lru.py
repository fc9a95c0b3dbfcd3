"""A bounded cache with least-recently-used eviction, for everything tinyorm memoises.

Compiled statements, generated row constructors and converters are cached by the shape of
what they serve (never by the identity of a query object built per request), and every
cache is bounded: a long-running process that builds ever-new shapes (a report builder,
dynamic filters) keeps a fixed amount of them, the most recently used.
"""

from __future__ import annotations

import collections
from typing import Any, TypeVar

_K = TypeVar("_K")
_V = TypeVar("_V")

__all__ = ["LRUCache"]


class LRUCache(collections.OrderedDict[_K, _V]):
    """A dict that keeps at most ``maxsize`` entries, dropping the least recently used.

    ``get`` counts as a use; lookups by ``cache[key]`` do not (kept at dict speed for the
    rare caller that only checks membership). Not locked: concurrent threads may both
    build an entry, and the last write wins, which is harmless for pure memoisation.
    """

    __slots__ = ("maxsize",)

    def __init__(self, maxsize: int) -> None:
        super().__init__()
        self.maxsize = maxsize

    def get(self, key: _K, default: Any = None) -> Any:
        try:
            value = self[key]
        except KeyError:
            return default
        try:
            self.move_to_end(key)
        except KeyError:  # another thread evicted it just now
            pass
        return value

    def __setitem__(self, key: _K, value: _V) -> None:
        super().__setitem__(key, value)
        if len(self) > self.maxsize:
            try:
                self.popitem(last=False)
            except KeyError:  # emptied by another thread meanwhile
                pass

    def __reduce__(self) -> Any:
        return (type(self), (self.maxsize,))
