"""Caching: dogpile-style regions over memory or Redis, and a model cache that writes keep fresh.

    region = CacheRegion(RedisBackend("redis://127.0.0.1:6379/0"), expiration_time=300)

    @region.cache_on_arguments()
    def top_posters(limit):
        return [...]                      # runs once per key per 5 minutes, in any process

    users = ModelCache(region)
    user = users.get_by_id(User, 1)       # one SELECT, then from Redis until a write changes it

Regions (``get``, ``set``, ``delete``, ``get_or_create``, ``cache_on_arguments``) protect
against stampedes: when many threads or processes miss one key at once, one of them runs
the creator behind a per-key lock (a thread lock in memory; ``SET NX PX`` with a token on
Redis, released only by its owner, expiring after ``lock_timeout`` if the owner dies) and
the others wait for its value, or take the stale one meanwhile with ``serve_stale=True``.

``ModelCache`` invalidation follows every write tinyorm sends for a model (see
``tinyorm.events``) through per-table counters kept in the backend itself: a *generation*
that bulk writes bump (row keys embed it, so every cached row of the table is dropped at
once) and a *sequence* that every write bumps (a cache fill that read the database while a
write ran is refused, so a slow reader cannot plant the old row after the write). Both
live in Redis next to the rows, so a write in one process is seen by the next read in any
other, with no message to miss. See docs/caching.md.
"""

from .. import _guard  # noqa: F401 - refuses to load beside peewee's playhouse (see _guard)
from .backends import NO_VALUE, CacheError, MemoryBackend, RedisBackend
from .keys import function_key_generator
from .models import ModelCache
from .region import CacheRegion

__all__ = [
    "NO_VALUE",
    "CacheError",
    "CacheRegion",
    "MemoryBackend",
    "RedisBackend",
    "ModelCache",
    "function_key_generator",
]
