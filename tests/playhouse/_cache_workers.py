"""Other processes for the cache tests: ``python -m tests.playhouse._cache_workers COMMAND ...``.

``stampede URL PREFIX KEY THREADS``: waits for the test's go signal, then THREADS threads
miss KEY together; the creator counts its runs in Redis. Prints the values seen (JSON).
``hold URL PREFIX KEY LOCK_TIMEOUT``: takes KEY's regeneration lock and hangs in the creator
(the test kills it with SIGKILL).
``write DB_URL URL PREFIX``: reads "PATH PK VALUE" lines and writes Note PK through PATH,
answering "done" (or "error ...") per line.
"""

import json
import sys
import threading
import time

import redis

import tinyorm
from playhouse.cache import CacheRegion, ModelCache, RedisBackend
from tinyorm import CharField, Model, Session


def make_note_model(database):
    """The model both processes cache (same table, same fields: same cache keys)."""

    class Note(Model):
        title = CharField(max_length=100)
        body = CharField(max_length=100, default="")

        class Meta:
            table_name = "cache_note"

    Note.bind(database)
    return Note


def stampede(url, prefix, key, threads):
    client = redis.Redis.from_url(url)
    region = CacheRegion(RedisBackend(client, prefix=prefix), expiration_time=60, lock_timeout=10)

    def creator():
        client.incr(prefix + "creator_runs")
        time.sleep(0.5)
        return {"made_by": f"process {threading.get_native_id()}"}

    while not client.exists(prefix + "go"):
        time.sleep(0.005)
    seen = []

    def work():
        seen.append(region.get_or_create(key, creator))

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    print(json.dumps(seen))


def hold(url, prefix, key, lock_timeout):
    client = redis.Redis.from_url(url)
    region = CacheRegion(RedisBackend(client, prefix=prefix), expiration_time=60, lock_timeout=lock_timeout)

    def creator():
        client.set(prefix + "started", "1")
        time.sleep(600)  # killed long before
        return "never"

    region.get_or_create(key, creator)


def write(db_url, url, prefix):
    database = tinyorm.connect(db_url)
    Note = make_note_model(database)
    # A ModelCache in this process too: writes here must reach the shared counters.
    cache = ModelCache(CacheRegion(RedisBackend(url, prefix=prefix), expiration_time=60))
    router = tinyorm.Router(primary=db_url)
    RoutedNote = make_note_model(router)
    for line in sys.stdin:
        path, pk, value = line.split()
        try:
            write_through(path, Note, RoutedNote, database, int(pk), value)
            print("done", flush=True)
            assert cache.backend is not None  # the cache follows writes while it is alive
        except Exception as exc:  # noqa: BLE001 - reported to the test
            print(f"error {type(exc).__name__}: {exc}".replace("\n", " "), flush=True)


def write_through(path, Note, RoutedNote, database, pk, value):
    """Write Note ``pk`` (title = ``value``, or delete it) through one write path."""
    if path in ("save", "router_save"):
        note = (RoutedNote if path == "router_save" else Note).get_by_id(pk)
        note.title = value
        note.save()
    elif path == "delete_instance":
        Note.get_by_id(pk).delete_instance()
    elif path == "update_query":
        Note.update(title=value).where(Note.id == pk).execute()
    elif path == "delete_query":
        Note.delete().where(Note.id == pk).execute()
    elif path == "upsert":
        Note.insert_many([{"id": pk, "title": value}]).on_conflict(
            conflict_target=[Note.id], update={Note.title: value}
        ).execute()
    elif path == "session_flush":
        with Session(database) as session:
            session.get(Note, pk).title = value
    elif path == "session_delete":
        with Session(database) as session:
            session.delete(session.get(Note, pk))
    elif path == "atomic_save":
        with database.atomic():
            note = Note.get_by_id(pk)
            note.title = value
            note.save()
    else:
        raise ValueError(f"unknown write path {path}")


if __name__ == "__main__":
    command, *arguments = sys.argv[1:]
    if command == "stampede":
        stampede(arguments[0], arguments[1], arguments[2], int(arguments[3]))
    elif command == "hold":
        hold(arguments[0], arguments[1], arguments[2], float(arguments[3]))
    elif command == "write":
        write(*arguments)
    else:
        raise SystemExit(f"unknown command {command}")
