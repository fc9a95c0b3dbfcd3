"""Cache regions: lifetimes, the dogpile lock, and the ``cache_on_arguments`` decorator."""

from __future__ import annotations

import functools
import time

from .backends import NO_VALUE
from .keys import function_key_generator


def _regenerate_once(mutex, fetch, create, serve_stale, stale=NO_VALUE):
    """The dogpile lock: ``create`` runs in one caller; the others wait for its value.

    ``fetch()`` returns (fresh value or NO_VALUE, stale value or NO_VALUE, context) and
    ``create(context)`` makes, stores and returns the value. Whoever takes the lock looks
    again first: another caller may have stored the value meanwhile. ``stale`` is what
    the caller's own first look found expired.
    """
    while True:
        if mutex.acquire():
            try:
                fresh, _stale, context = fetch()
                if fresh is not NO_VALUE:
                    return fresh
                return create(context)
            finally:
                mutex.release()
        if serve_stale and stale is not NO_VALUE:
            return stale
        mutex.wait()
        fresh, newer_stale, _context = fetch()
        if fresh is not NO_VALUE:
            return fresh
        if newer_stale is not NO_VALUE:
            stale = newer_stale


class CacheRegion:
    """A namespace of cached values in one backend, with a lifetime and a dogpile lock.

    ``expiration_time``: seconds a value stays fresh (None: until deleted or evicted).
    ``lock_timeout``: seconds a regeneration lock lives if its holder dies (set it above
    the slowest creator; a holder still running past it lets a second creator start).
    ``serve_stale``: while one caller regenerates an expired value, the others get the old
    one instead of waiting; it is kept ``stale_time`` seconds past expiry (default: as long
    again as ``expiration_time``). ``key_prefix`` starts every key of the region.
    """

    def __init__(self, backend, expiration_time=None, *, lock_timeout=30.0, serve_stale=False, stale_time=None,
                 key_prefix=""):  # fmt: skip
        if expiration_time is not None and (
            not isinstance(expiration_time, (int, float)) or isinstance(expiration_time, bool) or expiration_time <= 0
        ):
            raise ValueError(f"expiration_time must be a positive number of seconds or None, not {expiration_time!r}")
        if not lock_timeout or lock_timeout <= 0:
            raise ValueError(f"lock_timeout must be a positive number of seconds, not {lock_timeout!r}")
        self.backend = backend
        self.expiration_time = expiration_time
        self.lock_timeout = float(lock_timeout)
        self.serve_stale = serve_stale
        self.stale_time = stale_time
        self.key_prefix = key_prefix

    def __repr__(self):
        return f"<CacheRegion {self.backend!r} expiration_time={self.expiration_time}>"

    def _key(self, key):
        if not isinstance(key, str):
            raise TypeError(f"cache keys are strings, not {type(key).__name__}")
        return self.key_prefix + key

    def _stored_ttl(self, expiration_time):
        if expiration_time is None:
            return None
        if not self.serve_stale:
            return expiration_time
        return expiration_time + (self.stale_time if self.stale_time is not None else expiration_time)

    def _lifetime(self, expiration_time):
        return self.expiration_time if expiration_time is None else expiration_time

    def get(self, key, expiration_time=None):
        """The cached value, or ``NO_VALUE`` if there is none or it has expired."""
        envelope = self.backend.get(self._key(key))
        if envelope is NO_VALUE:
            return NO_VALUE
        value, created = envelope
        lifetime = self._lifetime(expiration_time)
        if lifetime is not None and created + lifetime <= time.time():
            return NO_VALUE
        return value

    def set(self, key, value, expiration_time=None):
        """Store ``value`` (fresh for ``expiration_time`` or the region's lifetime)."""
        lifetime = self._lifetime(expiration_time)
        self.backend.set(self._key(key), (value, time.time()), self._stored_ttl(lifetime))

    def delete(self, key):
        """Forget ``key`` (the next ``get_or_create`` runs its creator)."""
        self.backend.delete(self._key(key))

    def get_or_create(self, key, creator, expiration_time=None, should_cache_fn=None):
        """The cached value, else ``creator()``'s, run once however many callers miss at once.

        ``should_cache_fn(value)`` returning False keeps a value from being stored.
        """
        full_key = self._key(key)
        lifetime = self._lifetime(expiration_time)
        backend = self.backend

        def fetch():
            envelope = backend.get(full_key)
            if envelope is NO_VALUE:
                return NO_VALUE, NO_VALUE, None
            value, created = envelope
            if lifetime is not None and created + lifetime <= time.time():
                return NO_VALUE, value, None
            return value, value, None

        fresh, stale, _context = fetch()
        if fresh is not NO_VALUE:
            return fresh

        def create(_context):
            value = creator()
            if should_cache_fn is None or should_cache_fn(value):
                backend.set(full_key, (value, time.time()), self._stored_ttl(lifetime))
            return value

        mutex = backend.get_mutex(full_key, self.lock_timeout)
        return _regenerate_once(mutex, fetch, create, self.serve_stale, stale)

    def cache_on_arguments(self, namespace=None, expiration_time=None, should_cache_fn=None, key_generator=None):
        """Decorate a function so its results are cached per arguments.

        The key is the function's module and qualified name (plus ``namespace``) and its
        arguments in a form that is the same in every process (see
        :func:`function_key_generator`). The decorated function gains
        ``.invalidate(*args, **kwargs)``, ``.get(...)``, ``.set(value, *args, **kwargs)``,
        ``.refresh(*args, **kwargs)`` and ``.key_for(*args, **kwargs)``.
        """

        def decorator(function):
            make_key = (key_generator or function_key_generator)(namespace, function)

            @functools.wraps(function)
            def cached(*args, **kwargs):
                return self.get_or_create(
                    make_key(*args, **kwargs), lambda: function(*args, **kwargs), expiration_time, should_cache_fn
                )

            def refresh(*args, **kwargs):
                value = function(*args, **kwargs)
                self.set(make_key(*args, **kwargs), value, expiration_time)
                return value

            cached.invalidate = lambda *args, **kwargs: self.delete(make_key(*args, **kwargs))
            cached.get = lambda *args, **kwargs: self.get(make_key(*args, **kwargs), expiration_time)
            cached.set = lambda value, *args, **kwargs: self.set(make_key(*args, **kwargs), value, expiration_time)
            cached.refresh = refresh
            cached.key_for = make_key
            return cached

        return decorator
