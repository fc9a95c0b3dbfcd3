"""Cache backends: an LRU in this process, and Redis shared by every process.

Both offer what a region needs (``get``, ``set``, ``delete``, a per-key mutex) and what the
model cache needs (rows kept under per-table generation/sequence counters, see
``models.py``).
"""

from __future__ import annotations

import functools
import pickle
import threading
import time
import uuid
from collections import OrderedDict

import tinyorm

from .keys import _key_part


class _NoValue:
    """The marker for "nothing cached here" (a cached None is a value)."""

    __slots__ = ()

    def __repr__(self):
        return "NO_VALUE"

    def __bool__(self):
        return False

    def __reduce__(self):
        return "NO_VALUE"


NO_VALUE = _NoValue()


class CacheError(tinyorm.TinyORMError):
    """The cache backend failed (Redis unreachable, a value that cannot be stored)."""


# -- backends --------------------------------------------------------------------------------
class _KeyLock:
    """A per-key thread lock of the memory backend, dropped once nobody holds or waits."""

    __slots__ = ("lock", "users")

    def __init__(self):
        self.lock = threading.Lock()
        self.users = 0


class _MemoryMutex:
    """The dogpile lock of one key in one process."""

    def __init__(self, backend, key):
        self._backend = backend
        self._key = key

    def _entry(self):
        locks = self._backend._key_locks
        with self._backend._lock:
            entry = locks.get(self._key)
            if entry is None:
                entry = locks[self._key] = _KeyLock()
            entry.users += 1
            return entry

    def _done(self, entry):
        with self._backend._lock:
            entry.users -= 1
            if entry.users == 0 and self._backend._key_locks.get(self._key) is entry:
                del self._backend._key_locks[self._key]

    def acquire(self):
        entry = self._entry()
        if entry.lock.acquire(blocking=False):
            self._held = entry
            return True
        self._done(entry)
        return False

    def release(self):
        entry, self._held = self._held, None
        entry.lock.release()
        self._done(entry)

    def wait(self):
        """Block until the holder releases (then the caller looks for its value)."""
        entry = self._entry()
        try:
            if entry.lock.acquire(timeout=1.0):
                entry.lock.release()
        finally:
            self._done(entry)


class MemoryBackend:
    """An LRU in this process: at most ``max_size`` entries, thread-safe.

    Values are kept as they are given (a region hands every caller the same object; the
    model cache builds a new instance per get). Reads take no lock: the OrderedDict's
    lookups and moves are single operations under the GIL, and an entry evicted between
    the two is simply a miss.
    """

    shares_values = True

    def __init__(self, max_size=10_000):
        if not isinstance(max_size, int) or isinstance(max_size, bool) or max_size < 1:
            raise ValueError(f"MemoryBackend(max_size=...) takes a positive integer, not {max_size!r}")
        self.max_size = max_size
        self._data = OrderedDict()  # key -> (value, deadline on the monotonic clock, or None)
        self._lock = threading.Lock()
        self._key_locks = {}  # key -> _KeyLock, only while held or awaited
        self._counters = {}  # table key -> [generation, sequence]: one cell per table

    def __len__(self):
        return len(self._data)

    def get(self, key):
        """The value stored under ``key``, or ``NO_VALUE`` if none (or it expired)."""
        entry = self._data.get(key)
        if entry is None:
            return NO_VALUE
        deadline = entry[1]
        if deadline is not None and deadline <= time.monotonic():
            with self._lock:
                if self._data.get(key) is entry:
                    del self._data[key]
            return NO_VALUE
        try:
            self._data.move_to_end(key)
        except KeyError:  # evicted meanwhile by another thread: still a valid read
            pass
        return entry[0]

    def set(self, key, value, ttl=None):
        """Store ``value`` for ``ttl`` seconds (None: until evicted), evicting the least recently used beyond ``max_size``."""
        deadline = None if ttl is None else time.monotonic() + ttl
        data = self._data
        with self._lock:
            data[key] = (value, deadline)
            data.move_to_end(key)
            while len(data) > self.max_size:
                data.popitem(last=False)

    def delete(self, key):
        """Forget ``key`` (no error if absent)."""
        with self._lock:
            self._data.pop(key, None)

    def clear(self):
        """Forget every value, and every cached model row."""
        with self._lock:
            self._data.clear()
            for cell in self._counters.values():  # readers hold the cells: bump, never drop
                cell[0] += 1
                cell[1] += 1

    def get_mutex(self, key, lock_timeout):
        """The dogpile lock of ``key`` (a thread lock; ``lock_timeout`` is not needed in one process)."""
        return _MemoryMutex(self, key)

    # -- the model cache's versioned rows --------------------------------------------------
    def _cell(self, table):
        cell = self._counters.get(table)
        if cell is None:
            with self._lock:
                cell = self._counters.setdefault(table, [0, 0])
        return cell

    def model_get(self, table, suffix):
        """``(value or NO_VALUE, token)`` of a model-cache entry; the token is the table's counters, for ``model_set``."""
        cell = self._cell(table)
        # Reading the pair without the lock may pair an old generation with a newer
        # sequence; such a token never matches again, so a store with it is refused.
        token = (cell[0], cell[1])
        return self.get((table, token[0], suffix)), token

    def model_reader(self, table, build, key_type, coerce):
        """``hit(pk) -> instance or None`` for one table: the model cache's hit path, with
        everything it touches bound once; ``build(stored)`` makes the instance."""
        data = self._data
        cell = self._cell(table)
        move_to_end = data.move_to_end
        monotonic = time.monotonic

        def hit(pk):
            if pk.__class__ is not key_type:
                pk = coerce(pk)
            key = (table, cell[0], pk)
            entry = data.get(key)
            if entry is None or (entry[1] is not None and entry[1] <= monotonic()):
                return None  # the slow path drops an expired entry
            try:
                move_to_end(key)
            except KeyError:  # evicted meanwhile by another thread: still a valid read
                pass
            return build(entry[0])

        return hit

    def model_fast_path(self, inline, pending, slow):
        """``get_by_id(model, pk, session=None)`` with the hit path in one function.

        ``inline``: {model: (table, key type, coerce, build)} for models with a single-column
        key; ``pending``: the cache's one-item list, nonzero while a thread
        has writes in an open transaction; ``slow(model, pk, session)``: everything else.
        This is the same lookup as ``model_reader``'s, unrolled (one Python frame per hit).
        """
        data = self._data
        counters = self._counters
        move_to_end = data.move_to_end
        monotonic = time.monotonic
        lookup = inline.get

        def get_by_id(model, pk, session=None):
            if session is None and not pending[0]:
                found = lookup(model)
                if found is not None:
                    table, key_type, coerce, build = found
                    if pk.__class__ is not key_type:
                        pk = coerce(pk)
                    key = (table, counters[table][0], pk)
                    entry = data.get(key)
                    if entry is not None and (entry[1] is None or entry[1] > monotonic()):
                        try:
                            move_to_end(key)
                        except KeyError:  # evicted meanwhile by another thread: still valid
                            pass
                        return build(entry[0])
            return slow(model, pk, session)

        get_by_id.__doc__ = "The row with this primary key (see ModelCache.get_by_id)."
        return get_by_id

    def model_set(self, table, token, suffix, value, ttl):
        """Store a model-cache entry if no write to ``table`` ran since ``token`` was read; True if stored."""
        cell = self._cell(table)
        with self._lock:
            if (cell[0], cell[1]) != token:
                return False  # a write ran since the token was read: the value may be old
        self.set((table, token[0], suffix), value, ttl)
        return True

    def model_invalidate(self, rows, tables):
        """``rows``: {table: [suffix, ...]} to drop; ``tables``: tables whose every row goes."""
        cells = {table: self._cell(table) for table in [*rows, *tables]}
        with self._lock:
            for table, suffixes in rows.items():
                cell = cells[table]
                cell[1] += 1
                for suffix in suffixes:
                    self._data.pop((table, cell[0], suffix), None)
            for table in tables:
                cell = cells[table]
                cell[0] += 1
                cell[1] += 1


class _RedisMutex:
    """``SET lock NX PX timeout`` with a random token; released only by its owner."""

    def __init__(self, backend, key, lock_timeout):
        self._backend = backend
        self._key = key
        self._timeout_ms = max(1, int(lock_timeout * 1000))
        self._token = None
        self._pause = backend.poll_interval

    def acquire(self):
        token = uuid.uuid4().hex
        with self._backend._errors():
            acquired = self._backend.client.set(self._key, token, nx=True, px=self._timeout_ms)
        if acquired:
            self._token = token
            return True
        return False

    def release(self):
        token, self._token = self._token, None
        with self._backend._errors():
            self._backend._release(keys=[self._key], args=[token])

    def wait(self):
        # Polling with a growing pause: a waiter notices a finished value (or a lock
        # that expired because its holder died) within a few milliseconds to 0.1 s.
        time.sleep(self._pause)
        self._pause = min(self._pause * 2, 0.1)


_RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
# KEYS: generation, sequence, row; ARGV: generation, sequence, value (the row stores the
# generation it was filled under next to the value), ttl in ms (0: none)
_MODEL_SET_LUA = """
local g = redis.call('GET', KEYS[1]) or '0'
local s = redis.call('GET', KEYS[2]) or '0'
if g ~= ARGV[1] or s ~= ARGV[2] then return 0 end
if ARGV[4] == '0' then
  redis.call('SET', KEYS[3], ARGV[3])
else
  redis.call('SET', KEYS[3], ARGV[3], 'PX', ARGV[4])
end
return 1
"""
# KEYS: generation and sequence of each table (pairs); ARGV: per table, a mode ('rows'
# or 'all'), the number of row keys to delete, then those keys.
_MODEL_INVALIDATE_LUA = """
local a = 1
for t = 1, #KEYS, 2 do
  local mode, count = ARGV[a], tonumber(ARGV[a + 1])
  redis.call('INCR', KEYS[t + 1])
  if mode == 'all' then
    redis.call('INCR', KEYS[t])
  end
  for i = 1, count do redis.call('DEL', ARGV[a + 1 + i]) end
  a = a + 2 + count
end
return 1
"""


class RedisBackend:
    """Redis through redis-py (``pip install tinyorm[redis]``), shared by every process.

    ``url_or_client``: a ``redis://`` URL or a ``redis.Redis`` client. Every key starts
    with ``prefix``. Values are pickled (``serializer``/``deserializer`` replace that):
    keep the server private, since anyone who can write to it can make a reader unpickle
    anything. Server errors are raised as ``CacheError``. The model cache reads with one
    MGET; its conditional stores and invalidations are Lua scripts (one round trip each).
    """

    shares_values = False

    def __init__(self, url_or_client="redis://127.0.0.1:6379/0", *, prefix="tinyorm:", serializer=None,
                 deserializer=None, poll_interval=0.005, **client_options):  # fmt: skip
        try:
            import redis
        except ImportError:  # pragma: no cover - depends on the installation
            raise tinyorm.ImproperlyConfigured("RedisBackend needs redis-py: pip install 'tinyorm[redis]'") from None
        self._redis_error = redis.RedisError
        if isinstance(url_or_client, str):
            self.client = redis.Redis.from_url(url_or_client, **client_options)
        elif client_options:
            raise TypeError("client options go with a URL, not with a ready client")
        else:
            self.client = url_or_client
        if not isinstance(prefix, str):
            raise TypeError(f"prefix must be a string, not {type(prefix).__name__}")
        self.prefix = prefix
        self.dumps = serializer or functools.partial(pickle.dumps, protocol=pickle.HIGHEST_PROTOCOL)
        self.loads = deserializer or pickle.loads
        self.poll_interval = poll_interval
        register = self.client.register_script
        self._release = register(_RELEASE_LUA)
        self._model_set = register(_MODEL_SET_LUA)
        self._model_invalidate = register(_MODEL_INVALIDATE_LUA)

    def __repr__(self):
        return f"<RedisBackend {self.client!r} prefix={self.prefix!r}>"

    def _errors(self):
        return _translate_errors(self._redis_error)

    def get(self, key):
        """The value stored under ``key``, or ``NO_VALUE`` if none (or it expired)."""
        with self._errors():
            raw = self.client.get(self.prefix + key)
        return NO_VALUE if raw is None else self.loads(raw)

    def set(self, key, value, ttl=None):
        """Store ``value`` for ``ttl`` seconds (None: until deleted)."""
        data = self.dumps(value)
        with self._errors():
            self.client.set(self.prefix + key, data, px=None if ttl is None else max(1, int(ttl * 1000)))

    def delete(self, key):
        """Forget ``key`` (no error if absent)."""
        with self._errors():
            self.client.delete(self.prefix + key)

    def get_mutex(self, key, lock_timeout):
        """The dogpile lock of ``key``: ``SET NX PX`` with a token, expiring after ``lock_timeout`` seconds."""
        return _RedisMutex(self, f"{self.prefix}lock:{key}", lock_timeout)

    # -- the model cache's versioned rows --------------------------------------------------
    # Per table: "<table>:gen" and "<table>:seq" counters, and rows at "<table>:row:<key>"
    # holding (generation filled under, value). A hit is one MGET of the generation and
    # the row (no script); the row counts only if its generation is the current one.
    def _keys(self, table, suffix):
        base = f"{self.prefix}{table}"
        return base + ":gen", base + ":seq", f"{base}:row:{_key_part(suffix)}"

    def model_get(self, table, suffix):
        """``(value or NO_VALUE, token)`` of a model-cache entry in one MGET; the token is the table's counters."""
        keys = self._keys(table, suffix)
        with self._errors():
            generation, sequence, raw = self.client.mget(keys)
        generation = generation or b"0"
        token = (generation, sequence or b"0")
        if raw is None:
            return NO_VALUE, token
        filled_under, value = self.loads(raw)
        return (value if filled_under == generation else NO_VALUE), token

    def model_reader(self, table, build, key_type, coerce):
        """``hit(pk) -> instance or None`` for one table (see ``MemoryBackend.model_reader``)."""
        base = f"{self.prefix}{table}"
        generation_key = base + ":gen"
        row_prefix = base + ":row:"
        mget = self.client.mget
        loads = self.loads

        def hit(pk):
            if pk.__class__ is not key_type:
                pk = coerce(pk)
            with self._errors():
                generation, raw = mget((generation_key, row_prefix + _key_part(pk)))
            if raw is None:
                return None
            filled_under, value = loads(raw)
            return build(value) if filled_under == (generation or b"0") else None

        return hit

    def model_set(self, table, token, suffix, value, ttl):
        """Store a model-cache entry if no write to ``table`` ran since ``token`` was read (one script); True if stored."""
        ttl_ms = 0 if ttl is None else max(1, int(ttl * 1000))
        data = self.dumps((token[0], value))
        with self._errors():
            stored = self._model_set(keys=self._keys(table, suffix), args=[token[0], token[1], data, ttl_ms])
        return bool(stored)

    def model_invalidate(self, rows, tables):
        """Drop rows (``{table: [row key, ...]}``) and whole ``tables`` for every process, in one script."""
        keys, args = [], []
        for table, suffixes in rows.items():
            generation_key, sequence_key, _row = self._keys(table, "")
            keys += [generation_key, sequence_key]
            args += ["rows", len(suffixes), *[self._keys(table, suffix)[2] for suffix in suffixes]]
        for table in tables:
            generation_key, sequence_key, _row = self._keys(table, "")
            keys += [generation_key, sequence_key]
            args += ["all", 0]
        if keys:
            with self._errors():
                self._model_invalidate(keys=keys, args=args)


class _translate_errors:
    __slots__ = ("error_class",)

    def __init__(self, error_class):
        self.error_class = error_class

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None and issubclass(exc_type, self.error_class):
            raise CacheError(f"cache backend failed: {exc}") from exc
        return False
