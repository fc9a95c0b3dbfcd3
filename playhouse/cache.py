"""A read-through cache for ``get_by_id`` with a time-to-live, invalidated by saves.

    cache = ModelCache(ttl=30)
    user = cache.get_by_id(User, 1)   # one SELECT, then from memory for 30 s
    cache.invalidate(user)            # after writing it elsewhere

``CachedModel`` mixes the invalidation into ``save()``/``delete_instance()``. The store is a
dict in this process (thread-safe); pass any object with ``get/set/delete`` (a Redis
client wrapper, say) as ``store`` to share it between processes.
"""

import threading
import time

import tinyorm

from . import _guard  # noqa: F401 - refuses to load beside peewee's playhouse (see _guard)


class MemoryStore:
    def __init__(self):
        self._data = {}
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            entry = self._data.get(key)
            if entry is None:
                return None
            value, expires = entry
            if expires < time.monotonic():
                del self._data[key]
                return None
            return value

    def set(self, key, value, ttl):
        with self._lock:
            self._data[key] = (value, time.monotonic() + ttl)

    def delete(self, key):
        with self._lock:
            self._data.pop(key, None)

    def clear(self):
        with self._lock:
            self._data.clear()


class ModelCache:
    def __init__(self, ttl=60.0, store=None):
        self.ttl = ttl
        self.store = store if store is not None else MemoryStore()
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(model, pk):
        return f"{model._meta.table_name}:{pk!r}"

    def get_by_id(self, model, pk):
        key = self.key(model, pk)
        data = self.store.get(key)
        if data is not None:
            self.hits += 1
            instance = object.__new__(model)
            instance.__dict__.update(data)
            return instance
        self.misses += 1
        instance = model.get_by_id(pk)
        fields = {field.attr_key for field in model._meta.fields.values()}
        self.store.set(key, {k: v for k, v in instance.__dict__.items() if k in fields or k == "_persisted"}, self.ttl)
        return instance

    def invalidate(self, instance):
        self.store.delete(self.key(type(instance), instance.pk))


default_cache = ModelCache()


class CachedModel(tinyorm.Model):
    """Saves and deletes drop the row from ``Meta``-less ``default_cache`` (or ``_cache``)."""

    _cache = default_cache

    def save(self, *args, **kwargs):
        result = super().save(*args, **kwargs)
        self._cache.invalidate(self)
        return result

    def delete_instance(self, *args, **kwargs):
        self._cache.invalidate(self)
        return super().delete_instance(*args, **kwargs)


__all__ = ["ModelCache", "MemoryStore", "CachedModel", "default_cache"]
