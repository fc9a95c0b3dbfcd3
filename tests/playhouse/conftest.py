"""Fixtures for the playhouse tests: the shared Redis server, under a prefix per test."""

import os
import pathlib
import subprocess
import sys
import uuid

import pytest

REDIS_URL = os.environ.get("TINYORM_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture
def redis_prefix():
    """A key prefix no other test (or engineer) uses; every key under it is deleted after.

    The server is shared: nothing here ever flushes a whole database.
    """
    redis = pytest.importorskip("redis", reason="redis-py is the 'redis' extra")
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis at {REDIS_URL} cannot be reached (set TINYORM_TEST_REDIS_URL): {exc}")
    prefix = f"tinyorm-test:{uuid.uuid4().hex}:"
    yield prefix
    keys = list(client.scan_iter(match=prefix + "*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def redis_client(redis_prefix):
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    yield client
    client.close()


@pytest.fixture(params=["memory", "redis"])
def cache_backend(request):
    """Each cache backend: an in-process LRU, and the shared Redis under a fresh prefix."""
    from playhouse.cache import MemoryBackend, RedisBackend

    if request.param == "memory":
        return MemoryBackend(max_size=1000)
    prefix = request.getfixturevalue("redis_prefix")
    return RedisBackend(REDIS_URL, prefix=prefix)


def worker(*arguments, **options):
    """Start ``tests/playhouse/_cache_workers.py`` in a new Python process."""
    return subprocess.Popen(
        [sys.executable, "-m", "tests.playhouse._cache_workers", *map(str, arguments)],
        cwd=ROOT,
        text=True,
        **options,
    )
