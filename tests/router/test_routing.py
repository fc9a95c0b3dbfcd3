"""The routing rules, on a real PostgreSQL primary + streaming replica and on SQLite stand-ins.

Reads with no prior write go to a replica; every kind of write (and DDL) goes to the
primary; reads inside a transaction, a session's transaction, ``for_update()`` and
``use_primary()`` go to the primary; ``using(name)`` picks a database; replicas take turns;
a Router subclass's overrides are honoured on every path.

Routing is checked three ways: ``router.stats()``, the statements each database actually
received (``execute_sql`` counted on each of the router's databases) and, on SQLite, the
data itself: the stand-in replica file does not replicate, so a row that only it holds
proves a read was served there, and a row only the primary holds proves the opposite.
"""

import threading

import pytest

import tinyorm
from tinyorm import (
    CharField,
    ForeignKeyField,
    IntegerField,
    Model,
    RoutingError,
    Session,
    TextField,
    prefetch,
)

from .conftest import counting, in_thread, reads


class Article(Model):
    title = CharField(max_length=100, unique=True)
    views = IntegerField(default=0)

    class Meta:
        table_name = "rt_article"


class Comment(Model):
    article = ForeignKeyField(Article, backref="comments", on_delete="CASCADE")
    body = TextField()

    class Meta:
        table_name = "rt_comment"


MODELS = [Article, Comment]
REPLICA_ONLY = "only-on-the-replica"


def seed(routed, router):
    """Two articles with a comment each, on the primary and (caught up) on the replica.

    The SQLite stand-in replica gets the same rows plus one article only it has."""
    first = Article.create(title="first", views=1)
    second = Article.create(title="second", views=2)
    Comment.create(article=first, body="hello")
    Comment.create(article=second, body="world")
    if routed.real:
        routed.pair.wait_for_replica()
    else:
        replica = routed.replica_database()
        for pk, title, views in ((first.id, "first", 1), (second.id, "second", 2), (99, REPLICA_ONLY, 0)):
            replica.execute_sql("INSERT INTO rt_article (id, title, views) VALUES (?, ?, ?)", (pk, title, views))
        replica.execute_sql(
            "INSERT INTO rt_comment (article_id, body) VALUES (?, ?), (?, ?)", (first.id, "hello", second.id, "world")
        )
        replica.close()
    router.reset_stats()
    return first, second


def replica_titles(routed):
    titles = ["first", "second"]
    return titles if routed.real else titles + [REPLICA_ONLY]


# -- reads with no prior write -------------------------------------------------------------------
READS = {
    "list": lambda first: sorted(article.title for article in Article.select()),
    "get": lambda first: Article.get(Article.title == "first").views,
    "get_by_id": lambda first: Article.get_by_id(first.id).title,
    "get_or_none": lambda first: Article.get_or_none(Article.title == "nope"),
    "filter": lambda first: [a.title for a in Article.select().filter(title__startswith="fir")],
    "count": lambda first: Article.select().count(),
    "exists": lambda first: Article.select().where(Article.views > 1).exists(),
    "first": lambda first: Article.select().order_by(Article.id).first().title,
    "scalar": lambda first: Article.select(Article.views).where(Article.title == "second").scalar(),
    "dicts": lambda first: Article.select(Article.title).where(Article.id == first.id).dicts()[0],
    "tuples": lambda first: list(Article.select(Article.views).where(Article.id == first.id).tuples()),
    "iterator": lambda first: [a.title for a in Article.select().where(Article.id == first.id).iterator()],
    "join": lambda first: [
        c.article.title for c in Comment.select(Comment, Article).join(Article).order_by(Comment.id)
    ],
    "backref": lambda first: [c.body for c in first.comments],
    "lazy_fk": lambda first: Comment.get(Comment.body == "hello").article.title,
    "prefetch": lambda first: sorted(len(a.comments) for a in prefetch(Article.select(), Comment)),
    "session_get": lambda first: Session().get(Article, first.id).title,
    "session_query": lambda first: len(Session().query(Article).where(Article.views >= 1)),
}


@pytest.mark.parametrize("name", list(READS))
def test_reads_with_no_prior_write_are_served_by_the_replica(routed, name):
    router = routed(MODELS)
    first, _second = seed(routed, router)
    read = READS[name]

    def fresh_thread():
        with counting(router) as counters:
            result = read(first)
        return result, counters["primary"].count, counters["replica1"].count

    _result, primary_statements, replica_statements = in_thread(router, fresh_thread)
    assert primary_statements == 0, "a read with no prior write reached the primary"
    # (MySQL's iterator() streams through an unbuffered cursor of its own, not execute_sql,
    # so the counter misses it there; the router's own count below still shows the replica.)
    assert replica_statements >= 1 or name == "iterator"
    stats = router.stats()
    assert set(stats["reads"]) == {"replica1"}, stats
    assert stats["writes"] == {} and stats["pinned_reads"] == 0 and stats["fallbacks"] == 0


def test_replica_serves_the_data_it_holds(routed):
    router = routed(MODELS)
    seed(routed, router)
    titles = in_thread(router, lambda: sorted(article.title for article in Article.select()))
    # On SQLite the stand-in replica has a row the primary does not: the read really went there.
    assert titles == sorted(replica_titles(routed))
    assert reads(router) == {"replica1": 1}


def test_reads_in_other_threads_are_not_pinned_by_this_threads_writes(routed):
    router = routed(MODELS)
    seed(routed, router)
    Article.create(title="mine")  # this thread has written; other threads have not
    router.reset_stats()
    in_thread(router, lambda: list(Article.select()))
    assert reads(router) == {"replica1": 1}


# -- writes ------------------------------------------------------------------------------------
def _save_update(first):
    first.views = 50
    return first.save()


def _session_flush(first):
    with Session(Article._meta.database) as session:
        session.add(Article(title="from-session"))


WRITES = {
    "create": lambda first: Article.create(title="new"),
    "save_new": lambda first: Article(title="new").save(),
    "save_update": _save_update,
    "insert": lambda first: Article.insert(title="new").execute(),
    "insert_many": lambda first: Article.insert_many([{"title": f"bulk{i}"} for i in range(25)]).execute(),
    "update_bulk": lambda first: Article.update(views=Article.views + 1).where(Article.views < 10).execute(),
    "delete_bulk": lambda first: Comment.delete().where(Comment.body == "world").execute(),
    "delete_instance": lambda first: first.delete_instance(),
    "upsert_update": lambda first: (
        Article.insert(title="first", views=7)
        .on_conflict(conflict_target=[Article.title], update={Article.views: 7})
        .execute()
    ),
    "upsert_ignore": lambda first: Article.insert(title="first", views=8).on_conflict_ignore().execute(),
    "session_flush": _session_flush,
}

EFFECTS = {
    "create": ("SELECT COUNT(*) FROM rt_article WHERE title = 'new'", 1),
    "save_new": ("SELECT COUNT(*) FROM rt_article WHERE title = 'new'", 1),
    "save_update": ("SELECT views FROM rt_article WHERE title = 'first'", 50),
    "insert": ("SELECT COUNT(*) FROM rt_article WHERE title = 'new'", 1),
    "insert_many": ("SELECT COUNT(*) FROM rt_article WHERE title LIKE 'bulk%%'", 25),
    "update_bulk": ("SELECT SUM(views) FROM rt_article WHERE title IN ('first', 'second')", 5),
    "delete_bulk": ("SELECT COUNT(*) FROM rt_comment", 1),
    "delete_instance": ("SELECT COUNT(*) FROM rt_article WHERE title = 'first'", 0),
    "upsert_update": ("SELECT views FROM rt_article WHERE title = 'first'", 7),
    "upsert_ignore": ("SELECT views FROM rt_article WHERE title = 'first'", 1),
    "session_flush": ("SELECT COUNT(*) FROM rt_article WHERE title = 'from-session'", 1),
}


@pytest.mark.parametrize("name", list(WRITES))
def test_writes_go_to_the_primary(routed, name):
    router = routed(MODELS)
    first, _second = seed(routed, router)
    with counting(router) as counters:
        WRITES[name](first)
    assert counters["replica1"].count == 0, f"{name} sent SQL to the replica: {counters['replica1'].statements}"
    assert counters["primary"].count >= 1
    stats = router.stats()
    assert set(stats["writes"]) == {"primary"}, stats
    assert stats["reads"] == {}, stats
    sql, expected = EFFECTS[name]
    primary = routed.primary_database()
    assert primary.execute_sql(sql).fetchone()[0] == expected


def test_for_update_goes_to_the_primary(routed):
    router = routed(MODELS)
    first, _second = seed(routed, router)

    def fresh_thread():
        with counting(router) as counters:
            with router.atomic():
                locked = Article.select().where(Article.id == first.id).for_update().get()
            unlocked_block = list(Article.select().for_update())
        return locked.title, len(unlocked_block), counters["replica1"].count

    title, count, replica_statements = in_thread(router, fresh_thread)
    assert (title, count) == ("first", 2)  # the primary's rows (SQLite's replica has three)
    assert replica_statements == 0
    assert "replica1" not in reads(router)


def test_for_update_in_a_session_goes_to_the_primary(routed):
    router = routed(MODELS)
    first, _second = seed(routed, router)

    def fresh_thread():
        with counting(router) as counters, Session(router) as session:
            locked = session.query(Article).where(Article.id == first.id).for_update().get()
            locked.views = 11
        return counters["replica1"].count

    assert in_thread(router, fresh_thread) == 0
    assert (
        routed.primary_database().execute_sql("SELECT views FROM rt_article WHERE title = 'first'").fetchone()[0] == 11
    )


def test_create_and_drop_tables_touch_only_the_primary(routed):
    router = routed([])
    with counting(router) as counters:
        router.create_tables(MODELS)
        router.drop_tables(MODELS)
        router.create_tables(MODELS)
    assert counters["replica1"].count == 0
    assert counters["primary"].count >= 2
    assert {"rt_article", "rt_comment"} <= set(routed.primary_database().get_tables())
    if not routed.real:
        assert routed.replica_database().get_tables() == []


# -- reads pinned to the primary -----------------------------------------------------------------
def test_reads_inside_atomic_go_to_the_primary(routed):
    router = routed(MODELS)
    first, _second = seed(routed, router)

    def fresh_thread():
        with counting(router) as counters:
            with router.atomic():
                titles = sorted(article.title for article in Article.select())
                by_id = Article.get_by_id(first.id).title
                with router.atomic():  # a savepoint: still the primary
                    count = Article.select().count()
            after = sorted(article.title for article in Article.select())
        return titles, by_id, count, after, counters["replica1"].count

    titles, by_id, count, after, replica_statements = in_thread(router, fresh_thread)
    assert titles == ["first", "second"] and by_id == "first" and count == 2
    assert replica_statements == 1  # only the read after the block
    assert after == sorted(replica_titles(routed))
    stats = router.stats()
    assert stats["reads"] == {"primary": 3, "replica1": 1}
    assert stats["pinned_reads"] == 3


def test_reads_see_uncommitted_rows_inside_atomic(routed):
    router = routed(MODELS)
    seed(routed, router)

    def fresh_thread():
        with router.atomic():
            Article.create(title="uncommitted")
            return Article.get_or_none(Article.title == "uncommitted") is not None

    assert in_thread(router, fresh_thread)
    assert "replica1" not in reads(router)


def test_reads_in_a_session_transaction_go_to_the_primary(routed):
    router = routed(MODELS)
    first, second = seed(routed, router)

    def fresh_thread():
        observed = []
        with Session(router) as session:
            session.get(Article, first.id)  # nothing written yet: the replica
            observed.append(dict(reads(router)))
            session.add(Article(title="pending"))
            # autoflush opens the session's transaction on the primary; only it has the row
            found = session.query(Article).where(Article.title == "pending").first()
            observed.append(found is not None)
            session.get(Article, second.id)
            observed.append(dict(reads(router)))
        return observed

    before, found, after = in_thread(router, fresh_thread)
    assert before == {"replica1": 1}
    assert found
    assert after == {"replica1": 1, "primary": 2}


def test_use_primary(routed):
    router = routed(MODELS)
    first, _second = seed(routed, router)

    def fresh_thread():
        with router.use_primary():
            titles = sorted(article.title for article in Article.select())
            with router.use_primary():
                Article.get_by_id(first.id)
            Article.select().count()
            # another thread is not affected by this thread's block
            other = in_thread(router, lambda: (list(Article.select()), dict(reads(router)))[1])
        outside = sorted(article.title for article in Article.select())
        return titles, other, outside

    titles, other, outside = in_thread(router, fresh_thread)
    assert titles == ["first", "second"]
    assert other == {"primary": 3, "replica1": 1}
    assert outside == sorted(replica_titles(routed))
    assert reads(router) == {"primary": 3, "replica1": 2}


def test_using_names_a_database(routed):
    router = routed(MODELS)
    seed(routed, router)

    def fresh_thread():
        with router.using("primary") as database:
            assert database is router.databases["primary"]
            on_primary = sorted(article.title for article in Article.select())
        with router.using("replica1"):
            on_replica = sorted(article.title for article in Article.select())
            with router.using("primary"):  # innermost wins
                nested = Article.select().count()
            back = Article.select().count()
        return on_primary, on_replica, nested, back

    on_primary, on_replica, nested, back = in_thread(router, fresh_thread)
    assert on_primary == ["first", "second"]
    assert on_replica == sorted(replica_titles(routed))
    assert nested == 2 and back == len(replica_titles(routed))
    assert reads(router) == {"primary": 2, "replica1": 2}


def test_using_an_unknown_name_is_refused(routed):
    router = routed(MODELS)
    with pytest.raises(RoutingError) as error, router.using("replica9"):
        pass
    assert "replica9" in str(error.value) and "replica1" in str(error.value)


def test_replicas_take_turns(routed):
    replica = routed.pair.replica_url
    router = routed(MODELS, replicas=[replica, replica])
    seed(routed, router)
    in_thread(router, lambda: [Article.select().count() for _ in range(10)])
    assert reads(router) == {"replica1": 5, "replica2": 5}


def test_stats_and_reset_stats(routed):
    router = routed(MODELS)
    seed(routed, router)
    stats = router.stats()
    assert stats == {
        "reads": {},
        "writes": {},
        "fallbacks": 0,
        "pinned_reads": 0,
        "down": {},
        "lagging_skips": 0,
        "probes": 0,
        "probe_errors": {},
        "writer_failovers": 0,
    }
    Article.create(title="x")
    in_thread(router, lambda: Article.select().count())
    assert router.stats()["writes"] == {"primary": 1}
    assert router.stats()["reads"] == {"replica1": 1}
    router.reset_stats()
    assert router.stats()["reads"] == {} and router.stats()["writes"] == {}
    in_thread(router, lambda: Article.select().count())
    assert router.stats()["reads"] == {"replica1": 1}  # counting goes on after a reset


def test_reads_from_many_threads_are_all_counted(routed):
    replica = routed.pair.replica_url
    router = routed(MODELS, replicas=[replica, replica])
    seed(routed, router)

    def read_in_threads(count, each):
        threads = [
            threading.Thread(target=lambda: ([Article.select().count() for _ in range(each)], router.close()))
            for _ in range(count)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    read_in_threads(4, 50)
    assert reads(router) == {"replica1": 100, "replica2": 100}
    read_in_threads(4, 25)  # threads that ended before these started still count
    assert reads(router) == {"replica1": 150, "replica2": 150}
    router.reset_stats()
    read_in_threads(1, 2)
    assert reads(router) == {"replica1": 1, "replica2": 1}


# -- a Router subclass -------------------------------------------------------------------------
class Report(Model):
    """Reports must be exact: the subclass below always reads them from the primary."""

    total = IntegerField(default=0)

    class Meta:
        table_name = "rt_report"


class Scratch(Model):
    """A table the subclass below never lets onto any database."""

    note = CharField(null=True)

    class Meta:
        table_name = "rt_scratch"


class AuditingRouter(tinyorm.Router):
    """Records every decision, reads reports from the primary, never migrates Scratch."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.decisions = []

    def db_for_read(self, model):
        if model is Report:
            self.decisions.append(("read", model.__name__, "primary"))
            return self.database("primary")
        database = super().db_for_read(model)
        self.decisions.append(("read", model.__name__, self.name_of(database)))
        return database

    def db_for_write(self, model):
        database = super().db_for_write(model)
        self.decisions.append(("write", model.__name__, self.name_of(database)))
        return database

    def allow_migrate(self, db_name, model):
        if model is Scratch:
            return False
        return super().allow_migrate(db_name, model)


def test_subclass_allow_migrate_is_honoured(routed):
    router = routed([Article, Report, Scratch], router_class=AuditingRouter)
    tables = routed.primary_database().get_tables()
    assert "rt_article" in tables and "rt_report" in tables
    assert "rt_scratch" not in tables
    router.drop_tables([Article, Report, Scratch])
    assert "rt_report" not in routed.primary_database().get_tables()


def test_subclass_db_for_read_is_honoured(routed):
    router = routed([Article, Comment, Report], router_class=AuditingRouter)
    Report.create(total=3)
    seed(routed, router)
    router.decisions.clear()

    def fresh_thread():
        totals = [report.total for report in Report.select()]
        Report.get_by_id(1)
        count = Report.select().count()
        with Session(router) as session:
            session.get(Report, 1)
        Article.select().count()
        return totals, count

    totals, count = in_thread(router, fresh_thread)
    # the report exists only on the primary (SQLite's replica never got it): it was read there
    assert totals == [3] and count == 1
    assert [decision[1:] for decision in router.decisions] == [("Report", "primary")] * 4 + [("Article", "replica1")]
    # stats() counts every routed read, wherever an override sent it
    assert reads(router) == {"primary": 4, "replica1": 1}


def test_subclass_db_for_write_is_consulted_on_every_write_path(routed):
    router = routed(MODELS, router_class=AuditingRouter)
    first, _second = seed(routed, router)
    router.decisions.clear()
    Article.create(title="a")
    Article.insert(title="b").execute()
    Article.insert_many([{"title": "c"}, {"title": "d"}]).execute()
    Article.update(views=0).where(Article.title == "a").execute()
    Article.delete().where(Article.title == "d").execute()
    Article.insert(title="a").on_conflict_ignore().execute()
    first.views = 9
    first.save()
    with router.atomic():
        list(Article.select().where(Article.id == first.id).for_update())
    with Session(router) as session:
        session.add(Comment(article=first, body="via session"))
    decided = [decision for decision in router.decisions if decision[0] == "write"]
    assert len(decided) >= 10
    assert {decision[2] for decision in decided} == {"primary"}
    assert {decision[1] for decision in decided} == {"Article", "Comment"}


def test_subclass_decisions_are_counted_in_stats(routed):
    """``stats()`` counts reads per database: also those a subclass sent somewhere itself."""
    router = routed([Article, Comment, Report], router_class=AuditingRouter)
    Report.create(total=1)
    router.reset_stats()
    in_thread(router, lambda: (Report.select().count(), Article.select().count()))
    assert reads(router) == {"primary": 1, "replica1": 1}
