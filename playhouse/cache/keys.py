"""Cache keys that are the same in every process (no ids, no hash seeds)."""

from __future__ import annotations

import datetime
import decimal
import enum
import hashlib
import inspect
import uuid

import tinyorm

_MAX_KEY = 250  # longer keys are hashed (memcached's limit; Redis takes longer, but why pay)


def _key_part(value):
    """A text form of an argument that is the same in every process (no ids, no hash seeds)."""
    if value is None or isinstance(value, (bool, int, float, decimal.Decimal, uuid.UUID)):
        return repr(value)
    if isinstance(value, (str, bytes)):
        return repr(value)
    if isinstance(value, (datetime.date, datetime.time, datetime.timedelta)):
        return repr(value)
    if isinstance(value, enum.Enum):
        return f"{type(value).__qualname__}.{value.name}"
    if isinstance(value, tinyorm.Model):
        return f"{type(value).__name__}:{_key_part(value.pk)}"
    if isinstance(value, (tuple, list)):
        return "(" + ",".join(_key_part(item) for item in value) + ")"
    if isinstance(value, (set, frozenset)):
        return "{" + ",".join(sorted(_key_part(item) for item in value)) + "}"
    if isinstance(value, dict):
        return "{" + ",".join(sorted(f"{_key_part(k)}:{_key_part(v)}" for k, v in value.items())) + "}"
    raise TypeError(
        f"cannot make a stable cache key from a {type(value).__name__} argument; "
        "pass key_generator= to cache_on_arguments()"
    )


def function_key_generator(namespace, function):
    """The default key maker of ``cache_on_arguments``: ``module:qualname[|namespace]|args``.

    Arguments are bound to the signature (so ``f(1, b=2)`` and ``f(1, 2)`` share a key,
    defaults filled in); a first parameter named ``self`` or ``cls`` is left out (so
    ``Class.method.invalidate(any_instance, *args)`` drops the key for every instance). Keys
    longer than 250 characters are replaced by a SHA-1 of themselves.
    """
    base = f"{function.__module__}:{function.__qualname__}"
    if namespace:
        base += f"|{namespace}"
    signature = inspect.signature(function)
    parameters = list(signature.parameters)
    skip_first = bool(parameters) and parameters[0] in ("self", "cls")

    def make_key(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        values = list(bound.arguments.values())
        if skip_first:
            values = values[1:]
        key = base + "|" + ",".join(_key_part(value) for value in values)
        if len(key) > _MAX_KEY:
            key = base[:100] + "|sha1:" + hashlib.sha1(key.encode("utf-8")).hexdigest()
        return key

    return make_key
