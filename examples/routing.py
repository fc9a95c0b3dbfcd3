"""tinyorm routing: one primary, one replica and a partition, with every routing decision shown.

SQLite files in a temporary directory (removed at the end) stand in for the servers:
``primary.db``, ``replica.db`` and ``analytics.db`` (the "analytics" partition). SQLite files
do not replicate, so where a real replica would stream the primary's changes, this example
copies the primary onto the replica with SQLite's backup API (``replicate()``). Because the
copy only happens when the example says so, you can see exactly which database answered.

Run it with ``python examples/routing.py`` (``make demo`` does).
"""

import contextlib
import os
import shutil
import sqlite3
import tempfile
import threading

import tinyorm
from tinyorm import (
    CharField,
    ForeignKeyField,
    IntegerField,
    Model,
    RoutingError,
    Session,
)

directory = tempfile.mkdtemp(prefix="tinyorm-routing-")
PRIMARY = os.path.join(directory, "primary.db")
REPLICA = os.path.join(directory, "replica.db")
ANALYTICS = os.path.join(directory, "analytics.db")

router = tinyorm.Router(
    primary="sqlite:///" + PRIMARY,
    replicas=["sqlite:///" + REPLICA],
    partitions={"analytics": "sqlite:///" + ANALYTICS},
    pin_window=1.0,  # SQLite has no replication position: pin reads for 1 s after a write
)


class Base(Model):
    class Meta:
        database = router


class Author(Base):
    name = CharField(max_length=50, unique=True)


class Post(Base):
    author = ForeignKeyField(Author, backref="posts", on_delete="CASCADE")
    title = CharField(max_length=120)
    likes = IntegerField(default=0)


class PageView(Base):
    post_id = IntegerField()  # a plain integer: posts live on another database
    visitor = CharField(max_length=50)

    class Meta:
        partition = "analytics"  # every statement about page views goes to analytics.db


def replicate():
    """Stand-in for streaming replication: copy the primary's file onto the replica's."""
    with contextlib.closing(sqlite3.connect(PRIMARY)) as source, contextlib.closing(sqlite3.connect(REPLICA)) as target:
        source.backup(target)


def in_another_thread(function):
    """Run ``function`` in a new thread: one that has not written anything itself."""
    result = []
    thread = threading.Thread(target=lambda: (result.append(function()), router.close()))
    thread.start()
    thread.join()
    return result[0]


def heading(text):
    print()
    print(text)
    print("-" * len(text))


def show_stats(what):
    """Print where the statements since the last call went, then start counting afresh."""
    stats = router.stats()
    parts = [f"reads {stats['reads']}", f"writes {stats['writes']}"]
    for key in ("pinned_reads", "fallbacks", "down"):
        if stats[key]:
            parts.append(f"{key} {stats[key]}")
    print(f"  {what:<48} -> {', '.join(parts)}")
    router.reset_stats()


def main():
    heading("Tables go where allow_migrate says")
    router.create_tables([Author, Post, PageView])
    for name, database in router.databases.items():
        print(f"  {name:<10} {database.get_tables()}")
    replicate()  # the replica now has the (empty) tables too

    heading("Writes go to the primary of the model's partition")
    alice = Author.create(name="alice")
    Post.insert_many([{"author": alice, "title": f"Post {n}", "likes": n} for n in range(1, 4)]).execute()
    Post.update(likes=Post.likes + 10).where(Post.title == "Post 1").execute()
    PageView.create(post_id=1, visitor="bob")
    show_stats("create, insert_many, update, partition create")
    replicate()

    heading("Reads go to a replica ...")
    count = in_another_thread(lambda: Post.select().count())
    show_stats(f"another thread counts posts ({count})")

    heading("... except right after this thread's own write (read-your-writes)")
    post = Post.create(author=alice, title="Fresh", likes=0)
    print("  this thread sees its new post:", Post.get_or_none(Post.id == post.id) is not None)
    show_stats("read right after the write")
    seen_elsewhere = in_another_thread(lambda: Post.get_or_none(Post.id == post.id) is not None)
    print("  a thread with no write of its own, on the (not yet replicated) replica:", seen_elsewhere)
    show_stats("the other thread's read")

    heading("A token carries the write to the next request (e.g. in a cookie)")
    cookies = {}

    def handle_post():  # a POST handler: write, then remember the position
        created = Post.create(author=alice, title="From a form")
        cookies["tinyorm-pos"] = router.position()
        return created.id

    def handle_get(post_id):  # the next GET, maybe in another thread or process
        with router.after(cookies.get("tinyorm-pos", "")):
            return Post.get_or_none(Post.id == post_id) is not None

    new_id = handle_post()
    print("  cookie:", cookies["tinyorm-pos"])
    print("  the next GET sees the new post:", in_another_thread(lambda: handle_get(new_id)))
    show_stats("POST, then GET with the token")
    replicate()

    heading("Transactions, FOR UPDATE, use_primary() and using() read the primary")

    def pinned_reads():
        with router.atomic():
            Post.select().count()
            Post.select().where(Post.id == 1).for_update().get()
        with router.use_primary():
            Author.get(Author.name == "alice")
        with router.using("replica1"):
            Author.select().count()
        with Session(router) as session:
            session.add(Author(name="dora"))
            session.query(Author).count()  # after the session's flush: its transaction, the primary

    in_another_thread(pinned_reads)
    show_stats("atomic, for_update, use_primary, using, session")

    heading("Partitions: one model, one database; no query may span two")
    views = in_another_thread(lambda: PageView.select().where(PageView.post_id == 1).count())
    show_stats(f"page views of post 1 ({views})")
    try:
        list(Post.select().join(PageView, on=(PageView.post_id == Post.id)))
    except RoutingError as error:
        print("  refused before any SQL:", error)

    heading("A session writing to two databases commits each, in a fixed order")
    with Session(router) as session:
        session.add(PageView(post_id=2, visitor="carol"))
        session.add(Author(name="erin"))
    show_stats("one session, two databases")

    heading("A dead replica: reads fall back, the replica is marked down")
    fragile = tinyorm.Router(
        primary="sqlite:///" + PRIMARY,
        replicas=["sqlite:///" + os.path.join(directory, "missing", "replica.db")],
        partitions={"analytics": "sqlite:///" + ANALYTICS},
    )
    Post._meta.set_database(fragile)
    counts = in_another_thread(lambda: [Post.select().count() for _ in range(3)])
    stats = fragile.stats()
    print(f"  three counts {counts}; reads {stats['reads']}, fallbacks {stats['fallbacks']}, down {stats['down']}")
    Post._meta.set_database(router)
    fragile.close_all()

    heading("A custom router: posts are always read from the primary")

    class ReportingRouter(tinyorm.Router):
        def db_for_read(self, model):
            if model is Post:
                return self.database("primary")
            return super().db_for_read(model)

    custom = ReportingRouter(primary="sqlite:///" + PRIMARY, replicas=["sqlite:///" + REPLICA])
    custom.bind([Author, Post])
    for model in (Post, Author):
        chosen = in_another_thread(lambda model=model: custom.name_of(custom.db_for_read(model)))
        print(f"  {model.__name__:<6} reads go to {chosen}")
    custom.close_all()
    router.bind([Author, Post])


if __name__ == "__main__":
    try:
        main()
    finally:
        router.close_all()
        shutil.rmtree(directory, ignore_errors=True)
