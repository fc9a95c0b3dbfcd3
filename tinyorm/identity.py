"""The identity map: one object per (database, model, primary key) within a session."""

from __future__ import annotations

import weakref
from typing import Any


class IdentityMap:
    """Maps identity keys to objects, holding them weakly.

    An object nobody references any more drops out by itself, so a long session does not
    grow without bound. The session keeps strong references to objects with pending
    changes (new, dirty, deleted), so those are never lost.
    """

    __slots__ = ("_refs", "_adds", "_sweep_at", "__weakref__")

    # Entries whose object has died stay until the next sweep, which runs once the map has
    # taken as many additions as it holds entries (amortised O(1) per addition, and the map
    # never holds more than about twice its live objects). A callback per weak reference
    # would cost a Python call for every object that dies, usually thousands at a time.
    MIN_SWEEP = 10_000

    def __init__(self) -> None:
        self._refs: dict[Any, weakref.ref[Any]] = {}  # identity key -> weakref to the object
        self._adds = 0
        self._sweep_at = self.MIN_SWEEP

    def get(self, key: Any) -> Any:
        ref = self._refs.get(key)
        return ref() if ref is not None else None

    def add(self, key: Any, obj: Any) -> None:
        self._refs[key] = weakref.ref(obj)
        self.note_additions(1)

    def note_additions(self, count: int) -> None:
        self._adds += count
        if self._adds >= self._sweep_at:
            self.sweep()

    def sweep(self) -> None:
        """Drop the entries of objects that no longer exist."""
        refs = self._refs
        for key in [key for key, ref in refs.items() if ref() is None]:
            del refs[key]
        self._adds = 0
        self._sweep_at = max(self.MIN_SWEEP, len(refs))

    def discard(self, key: Any) -> None:
        self._refs.pop(key, None)

    def __contains__(self, key: Any) -> bool:
        return self.get(key) is not None

    def __len__(self) -> int:
        return sum(1 for ref in self._refs.values() if ref() is not None)

    def objects(self) -> list[Any]:
        """The live objects, in no particular order."""
        return [obj for obj in (ref() for ref in list(self._refs.values())) if obj is not None]

    def items(self) -> list[tuple[Any, Any]]:
        return [(key, ref()) for key, ref in list(self._refs.items()) if ref() is not None]

    def clear(self) -> None:
        self._refs.clear()
        self._adds = 0
