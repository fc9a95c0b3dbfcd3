"""The cached get-by-primary-key workload: playhouse.cache against a plain dict.

``dict_cache`` is the floor a cache can reach in Python: a function ``get(model, pk)`` (the
call shape of ``ModelCache.get_by_id``) over a dict of stored values, each get a new instance
filled from them (``object.__new__`` of the model's loader class, one C-level attribute store
per field, then its class), with no expiry, no bound, no invalidation, no thread safety. ``tinyorm_cached`` is ``ModelCache`` over the in-process
``MemoryBackend`` (an LRU with expiry, invalidated by every write); ``tinyorm_redis`` the
same over the shared Redis (``TINYORM_BENCH_REDIS_URL``, default 127.0.0.1:6379, under a
key prefix of its own, deleted at the end). The plain ``tinyorm`` column runs uncached
``get_by_id`` for comparison. The untimed warm-up round fills the caches, so the timed
rounds measure hits.
"""

from __future__ import annotations

import os
import uuid

from .impl_tinyorm import TinyORM
from .workloads import CACHED_GET_REPEATS

REDIS_URL = os.environ.get("TINYORM_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


class _CacheOnly(TinyORM):
    """Takes part in the cached get workload only."""

    insert_single = insert_bulk = select_objects = select_tuples = join_objects = get_by_pk = None
    compile_join = load_modify_save = load_modify_flush = identity_get = None


class DictCache(_CacheOnly):
    name = "dict_cache"
    label = "dict lookup"

    def __init__(self, engine):
        super().__init__(engine)
        self._rows = None

    def cached_get(self, data):
        Tweet = self.Tweet
        meta = Tweet._meta
        if self._rows is None:
            # each row's values by attribute, read once from the database
            self._rows = {}
            for pk in data.pk_sample:
                obj = Tweet.get_by_id(pk)
                self._rows[Tweet, pk] = tuple((key, getattr(obj, key)) for key in meta.attr_keys)
        rows = self._rows
        new = object.__new__
        loader = meta.loader  # the model's twin whose attribute stores skip change tracking

        def get(model, pk):  # the same call shape as ModelCache.get_by_id
            obj = new(loader)
            for key, value in rows[model, pk]:
                setattr(obj, key, value)
            obj._persisted = True
            obj.__class__ = model
            return obj

        found = []
        for _ in range(CACHED_GET_REPEATS):
            for pk in data.pk_sample:
                found.append(get(Tweet, pk))
        return found[: len(data.pk_sample)]


class TinyORMCached(_CacheOnly):
    name = "tinyorm_cached"
    label = "tinyorm, cached (memory)"

    def __init__(self, engine):
        super().__init__(engine)
        self._cache = None

    def make_backend(self):
        from playhouse.cache import MemoryBackend

        return MemoryBackend(max_size=100_000)

    def cached_get(self, data):
        if self._cache is None:  # created here, after every write workload has run
            from playhouse.cache import CacheRegion, ModelCache

            self._cache = ModelCache(CacheRegion(self.make_backend(), expiration_time=3600))
        get, Tweet = self._cache.get_by_id, self.Tweet
        found = []
        for _ in range(CACHED_GET_REPEATS):
            for pk in data.pk_sample:
                found.append(get(Tweet, pk))
        return found[: len(data.pk_sample)]

    def close(self):
        if self._cache is not None:
            self._cache.close()
        super().close()


class TinyORMRedis(TinyORMCached):
    name = "tinyorm_redis"
    label = "tinyorm, cached (Redis)"

    def make_backend(self):
        from playhouse.cache import RedisBackend

        self._prefix = f"tinyorm-bench:{uuid.uuid4().hex}:"
        self._backend = RedisBackend(REDIS_URL, prefix=self._prefix)
        return self._backend

    def close(self):
        if self._cache is not None:
            client = self._backend.client
            keys = list(client.scan_iter(match=self._prefix + "*", count=1000))
            if keys:
                client.delete(*keys)
        super().close()
