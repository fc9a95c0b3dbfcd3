"""The identity map: one object per (database, model, primary key) within a session."""
from __future__ import annotations

import weakref


class IdentityMap:
    """Maps identity keys to objects, holding them weakly.

    An object nobody references any more drops out by itself, so a long session does not
    grow without bound. The session keeps strong references to objects with pending
    changes (new, dirty, deleted), so those are never lost.
    """

    __slots__ = ("_refs", "_keys", "_forget", "__weakref__")

    def __init__(self):
        self._refs = {}  # identity key -> weakref to the object
        self._keys = {}  # id(weakref) -> identity key, so a dead reference finds its entry
        map_ref = weakref.ref(self)

        def forget(dead_ref):
            identity_map = map_ref()
            if identity_map is None:
                return
            key = identity_map._keys.pop(id(dead_ref), None)
            # Drop the entry only if it still holds this (now dead) reference.
            if key is not None and identity_map._refs.get(key) is dead_ref:
                del identity_map._refs[key]

        self._forget = forget

    def get(self, key):
        ref = self._refs.get(key)
        return ref() if ref is not None else None

    def add(self, key, obj):
        ref = weakref.ref(obj, self._forget)
        self._refs[key] = ref
        self._keys[id(ref)] = key

    def discard(self, key):
        ref = self._refs.pop(key, None)
        if ref is not None:
            self._keys.pop(id(ref), None)

    def __contains__(self, key):
        return self.get(key) is not None

    def __len__(self):
        return sum(1 for ref in self._refs.values() if ref() is not None)

    def objects(self):
        """The live objects, in no particular order."""
        return [obj for obj in (ref() for ref in list(self._refs.values())) if obj is not None]

    def items(self):
        return [(key, ref()) for key, ref in list(self._refs.items()) if ref() is not None]

    def clear(self):
        self._refs.clear()
        self._keys.clear()
