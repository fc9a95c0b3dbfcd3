"""What web apps set up at start: ``DatabaseProxy``, ``db.Model``, ``Model.replace``, and a
Session whose first flush needs no savepoint."""

import pytest

import tinyorm
from tinyorm import CharField, ImproperlyConfigured, IntegerField, IntegrityError, Model, Session, TextField


def verbs(counter):
    return [sql.split()[0].upper() for sql, _params in counter.statements]


# -- DatabaseProxy and db.Model -----------------------------------------------------------------
def test_database_proxy_binds_later(db, count_queries):
    proxy = tinyorm.DatabaseProxy()

    class Base(proxy.Model):
        pass

    class Setting(Base):
        name = CharField(max_length=40, unique=True)
        value = TextField()

    with pytest.raises(ImproperlyConfigured, match="initialize"):
        Setting.select().count()
    seen = []
    proxy.attach_callback(seen.append)
    proxy.initialize(db)
    assert seen == [db]
    proxy.create_tables([Setting])
    Setting.create(name="theme", value="dark")
    with Session(proxy) as session:
        setting = session.query(Setting).where(Setting.name == "theme").get()
        setting.value = "light"
    assert Setting.get(Setting.name == "theme").value == "light"
    with count_queries(proxy) as counter:  # wrapping execute_sql on the proxy wraps the database
        Setting.get_by_id(setting.id)
    assert counter.count == 1
    with proxy.atomic():
        Setting.create(name="lang", value="en")
    assert proxy.dialect is db.dialect and Setting.select().count() == 2


def test_database_model_is_a_bound_base(db):
    class Counter(db.Model):
        hits = IntegerField(default=0)

    assert Counter._meta.database is db and db.Model is db.Model
    db.create_tables([Counter])
    Counter.create(hits=3)
    assert Counter.select().count() == 1


def test_proxy_accepts_a_router(db_url):
    proxy = tinyorm.DatabaseProxy()

    class Entry(proxy.Model):
        title = CharField(max_length=40)

    router = tinyorm.Router(primary=db_url)
    proxy.initialize(router)
    try:
        router.create_tables([Entry])
        Entry.create(title="routed")
        with router.use_primary():
            assert [entry.title for entry in Entry.select()] == ["routed"]
        assert router.stats()["writes"]
    finally:
        router.close_all()


def test_router_model_is_a_bound_base(db_url):
    router = tinyorm.Router(primary=db_url)
    try:

        class Base(router.Model):
            pass

        assert Base._meta.database is router
    finally:
        router.close_all()


# -- Model.replace ------------------------------------------------------------------------------
class KV(Model):
    key = CharField(max_length=40, unique=True)
    value = TextField()


def test_replace_overwrites_the_row_with_the_same_unique_key(db):
    KV.bind(db)
    db.create_tables([KV])
    KV.replace(key="a", value="1").execute()
    KV.replace(key="a", value="2").execute()
    KV.replace_many([{"key": "a", "value": "3"}, {"key": "b", "value": "4"}]).execute()
    assert list(KV.select(KV.key, KV.value).order_by(KV.key).tuples()) == [("a", "3"), ("b", "4")]
    row = KV.get(KV.key == "b")
    KV.replace(id=row.id, key="b", value="5").execute()
    assert KV.get_by_id(row.id).value == "5" and KV.select().count() == 2


def test_replace_validates_before_sql(db, count_queries):
    KV.bind(db)
    db.create_tables([KV])
    with count_queries(db) as counter, pytest.raises(tinyorm.DataError):
        KV.replace(key="x" * 41, value="v").execute()
    assert counter.count == 0


# -- a session's first flush ---------------------------------------------------------------------
class Account(Model):
    name = CharField(max_length=40, unique=True)


def test_first_flush_sends_no_savepoint_later_flushes_do(db, count_queries):
    Account.bind(db)
    db.create_tables([Account])
    with count_queries(db) as counter:
        with Session(db) as session:
            session.add(Account(name="a"))
            session.flush()
            session.add(Account(name="b"))
    assert verbs(counter) == ["BEGIN", "INSERT", "SAVEPOINT", "INSERT", "RELEASE", "COMMIT"]


def test_a_failed_first_flush_rolls_back_and_the_session_goes_on(db):
    Account.bind(db)
    db.create_tables([Account])
    Account.create(name="taken")
    with Session(db) as session:
        session.add(Account(name="taken"))
        with pytest.raises(IntegrityError):
            session.flush()
        session.expunge_all()
        session.add(Account(name="free"))
    assert sorted(account.name for account in Account.select()) == ["free", "taken"]
    assert not db.in_transaction()
