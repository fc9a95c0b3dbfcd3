"""Partitions: a model's ``Meta.partition`` sends all of its SQL to another database.

Runs on SQLite files (primary, replica, and an "archive" partition with a replica of its
own), across engines (models on PostgreSQL, the archive partition on MariaDB) and with the
real primary/replica pair plus the MariaDB partition. Also: queries spanning partitions are
refused before any SQL, sessions that write to two databases, and a Django-style router
subclass that places a model by overriding the routing methods instead.
"""

import pytest

import tinyorm
from tinyorm import (
    CharField,
    ForeignKeyField,
    IntegerField,
    IntegrityError,
    Model,
    RoutingError,
    Session,
    fn,
)

from .conftest import counting, in_thread, reads, writes


class Customer(Model):
    name = CharField(max_length=100, unique=True)

    class Meta:
        table_name = "rt_customer"


class Invoice(Model):
    customer = ForeignKeyField(Customer, backref="invoices", on_delete="CASCADE")
    total = IntegerField()

    class Meta:
        table_name = "rt_invoice"


class Event(Model):
    customer_id = IntegerField()  # no foreign key: the customer lives on another database
    kind = CharField(max_length=50)

    class Meta:
        table_name = "rt_event"
        partition = "archive"


class EventTag(Model):
    event = ForeignKeyField(Event, backref="tags", on_delete="CASCADE")
    tag = CharField(max_length=50)

    class Meta:
        table_name = "rt_event_tag"
        partition = "archive"


class Ledger(Model):
    ref = CharField(max_length=50, unique=True)

    class Meta:
        table_name = "rt_ledger"
        partition = "archive"


class Voucher(Model):
    """On the primary; the session tests give it a DEFERRED foreign key so COMMIT can fail."""

    customer_id = IntegerField()

    class Meta:
        table_name = "rt_voucher"


MODELS = [Customer, Invoice, Event, EventTag, Ledger, Voucher]
DEFAULT_TABLES = {"rt_customer", "rt_invoice", "rt_voucher"}
ARCHIVE_TABLES = {"rt_event", "rt_event_tag", "rt_ledger"}


def archive_reader(partitioned):
    """The database the archive's reads go to: its replica on SQLite, else its primary."""
    return "archive.replica1" if partitioned.archive_replica_urls else "archive"


# -- placement -----------------------------------------------------------------------------------
def test_create_tables_creates_each_table_only_where_allow_migrate_says(partitioned):
    router = partitioned.router(MODELS)
    on_primary = set(router.databases["primary"].get_tables())
    on_archive = set(router.databases["archive"].get_tables())
    assert DEFAULT_TABLES <= on_primary and not (ARCHIVE_TABLES & on_primary)
    assert ARCHIVE_TABLES <= on_archive and not (DEFAULT_TABLES & on_archive)
    assert router.allow_migrate("archive", Event) and not router.allow_migrate("primary", Event)
    assert router.allow_migrate("primary", Customer) and not router.allow_migrate("archive", Customer)
    for name in router.databases:
        if name not in ("primary", "archive"):
            assert not router.allow_migrate(name, Customer) and not router.allow_migrate(name, Event)
    router.drop_tables(MODELS)
    assert not (DEFAULT_TABLES | ARCHIVE_TABLES) & set(router.databases["primary"].get_tables())
    assert not (DEFAULT_TABLES | ARCHIVE_TABLES) & set(router.databases["archive"].get_tables())


def test_create_tables_sends_ddl_to_each_database_once(partitioned):
    router = partitioned.router(MODELS)
    router.drop_tables(MODELS)
    with counting(router) as counters:
        router.create_tables(MODELS)
    for name, counter in counters.items():
        text = " ".join(sql for sql, _params in counter.statements)
        if name == "primary":
            assert "rt_customer" in text and "rt_event" not in text
        elif name == "archive":
            assert "rt_event" in text and "rt_customer" not in text
        else:
            assert counter.count == 0, f"DDL sent to {name}"


def test_a_partitioned_models_sql_goes_to_its_partition(partitioned):
    router = partitioned.router(MODELS)
    with counting(router) as counters:
        event = Event.create(customer_id=1, kind="signup")
        Event.insert_many([{"customer_id": 2, "kind": "login"}, {"customer_id": 3, "kind": "login"}]).execute()
        Event.update(kind="visit").where(Event.kind == "login").execute()
        EventTag.create(event=event, tag="new")
        Event.delete().where(Event.customer_id == 3).execute()
        with router.use_primary():
            assert sorted(e.kind for e in Event.select()) == ["signup", "visit"]
            assert Event.get_by_id(event.id).kind == "signup"
    assert {name for name, counter in counters.items() if counter.count} == {"archive"}
    assert writes(router) == {"archive": 5}
    assert reads(router) == {"archive": 2}


def test_partition_reads_with_no_prior_write_go_to_the_partitions_replica(partitioned):
    router = partitioned.router(MODELS)
    reader = archive_reader(partitioned)

    def fresh_thread():
        with counting(router) as counters:
            Event.select().count()
            Event.get_or_none(Event.id == 1)
            list(EventTag.select().join(Event))
            Customer.select().count()
        return {name: counter.count for name, counter in counters.items() if counter.count}

    used = in_thread(router, fresh_thread)
    default_reader = "replica1" if partitioned.replica_urls else "primary"
    assert used == {reader: 3, default_reader: 1}
    assert reads(router) == {reader: 3, default_reader: 1}


def test_partitioned_sql_is_compiled_for_the_partitions_engine(partitioned):
    router = partitioned.router(MODELS)
    event_sql, _ = Event.select().where(Event.kind == "x").sql()
    customer_sql, _ = Customer.select().where(Customer.name == "x").sql()
    assert router.dialect_for(Event).name == partitioned.archive_engine
    assert router.dialect_for(Customer).name == partitioned.primary_engine
    if partitioned.archive_engine == "mysql":
        assert "`rt_event`" in event_sql and "%s" in event_sql
        assert '"rt_customer"' in customer_sql


def test_a_join_within_one_partition_works(partitioned):
    router = partitioned.router(MODELS)
    event = Event.create(customer_id=7, kind="signup")
    EventTag.create(event=event, tag="a")
    EventTag.create(event=event, tag="b")
    with router.use_primary():
        tags = [
            tag.tag
            for tag in EventTag.select(EventTag, Event).join(Event).where(Event.customer_id == 7).order_by(EventTag.tag)
        ]
        counts = list(Event.select(Event.kind, fn.COUNT(EventTag.id)).join(EventTag).group_by(Event.kind).tuples())
    assert tags == ["a", "b"] and counts == [("signup", 2)]


def test_using_and_atomic_on_a_partition(partitioned):
    router = partitioned.router(MODELS)
    Event.create(customer_id=1, kind="x")
    router.reset_stats()

    def fresh_thread():
        with router.using("archive"):
            direct = Event.select().count()
        with router.atomic("archive"):
            in_transaction = Event.select().count()
        return direct, in_transaction

    assert in_thread(router, fresh_thread) == (1, 1)
    assert reads(router) == {"archive": 2}
    with pytest.raises(RoutingError), router.using("archive.replica7"):
        pass


def test_an_unknown_partition_is_refused(partitioned):
    router = partitioned.router(MODELS)

    class Stray(Model):
        note = CharField(null=True)

        class Meta:
            table_name = "rt_stray"
            partition = "nowhere"

    Stray._meta.set_database(router)
    for action in (lambda: Stray.select().count(), lambda: Stray.create(note="x")):
        with pytest.raises(RoutingError) as error:
            action()
        assert "nowhere" in str(error.value) and "Stray" in str(error.value)


# -- queries across partitions -------------------------------------------------------------------
CROSS_QUERIES = {
    "join": lambda: list(Event.select().join(Customer, on=(Event.customer_id == Customer.id))),
    "join_from_default": lambda: list(Customer.select().join(Event, on=(Event.customer_id == Customer.id))),
    "subquery_in": lambda: list(Customer.select().where(Customer.id.in_(Event.select(Event.customer_id)))),
    "exists_subquery": lambda: list(
        Customer.select().where(fn.EXISTS(Event.select().where(Event.customer_id == Customer.id)))
    ),
    "count": lambda: Customer.select().where(Customer.id.in_(Event.select(Event.customer_id))).count(),
    "exists": lambda: Customer.select().where(Customer.id.in_(Event.select(Event.customer_id))).exists(),
    "filter_subquery": lambda: list(Invoice.select().filter(customer__in=Event.select(Event.customer_id))),
    "union": lambda: list(Customer.select(Customer.id).union(Event.select(Event.customer_id)).tuples()),
    "session_query": lambda: list(Session().query(Event).join(Customer, on=(Event.customer_id == Customer.id))),
    "update_subquery": lambda: (
        Customer.update(name="x").where(Customer.id.in_(Event.select(Event.customer_id))).execute()
    ),
    "delete_subquery": lambda: Customer.delete().where(Customer.id.in_(Event.select(Event.customer_id))).execute(),
    "insert_from_select": lambda: Event.insert_from(
        Customer.select(Customer.id, Customer.name), [Event.customer_id, Event.kind]
    ).execute(),
}


@pytest.mark.parametrize("name", list(CROSS_QUERIES))
def test_a_query_across_partitions_is_refused_before_any_sql(partitioned, name):
    router = partitioned.router(MODELS)
    customer = Customer.create(name="ann")
    Event.create(customer_id=customer.id, kind="signup")
    with counting(router) as counters, pytest.raises(RoutingError) as error:
        CROSS_QUERIES[name]()
    message = str(error.value)
    named = "Invoice" if name == "filter_subquery" else "Customer"
    assert named in message and "Event" in message, message
    sent = {name: counter.statements for name, counter in counters.items() if counter.count}
    assert sent == {}, f"SQL was sent before the refusal: {sent}"


# -- sessions across databases -------------------------------------------------------------------
def test_a_flush_touching_two_databases_commits_both(partitioned):
    router = partitioned.router(MODELS)
    with Session(router) as session:
        customer = Customer(name="bob")
        session.add(customer)
        session.flush()
        session.add(Event(customer_id=customer.id, kind="signup"))
        session.add(Invoice(customer=customer, total=10))
    assert writes(router).keys() == {"primary", "archive"}

    def outside():  # another thread, another connection: sees only what was committed
        with router.use_primary():
            return Customer.select().count(), Invoice.select().count(), Event.select().count()

    assert in_thread(router, outside) == (1, 1, 1)


def test_session_identity_map_keys_objects_by_database(partitioned):
    router = partitioned.router(MODELS)
    customer = Customer.create(name="c")
    event = Event.create(customer_id=customer.id, kind="k")
    assert customer.id == event.id == 1  # the same key on two databases
    with router.use_primary(), Session(router) as session:
        loaded_customer = session.get(Customer, 1)
        loaded_event = session.get(Event, 1)
        with counting(router) as counters:
            assert session.get(Customer, 1) is loaded_customer
            assert session.get(Event, 1) is loaded_event
        assert sum(counter.count for counter in counters.values()) == 0
        assert loaded_customer.name == "c" and loaded_event.kind == "k"


def test_a_failed_flush_leaves_nothing_on_either_database(partitioned):
    router = partitioned.router(MODELS)
    Ledger.create(ref="taken")
    session = Session(router, autoflush=False)
    try:
        session.add(Customer(name="carol"))
        duplicate = Ledger(ref="taken")
        session.add(duplicate)
        with pytest.raises(IntegrityError):
            session.flush()  # rt_customer (primary) is written first, then rt_ledger fails
        # inside the session's transactions nothing of that flush remains ...
        assert session.query(Customer).where(Customer.name == "carol").count() == 0
        assert session.query(Ledger).count() == 1
        # ... and the session goes on: drop the bad object, commit the rest
        session.expunge(duplicate)
        session.commit()
    finally:
        session.close()
    with router.use_primary():
        assert [c.name for c in Customer.select()] == ["carol"]
        assert Ledger.select().count() == 1


def _defer_voucher_foreign_key(router):
    """Give rt_voucher a foreign key checked only at COMMIT, so a COMMIT can fail."""
    primary = router.databases["primary"]
    if primary.dialect.name == "postgresql":
        primary.execute_sql(
            "ALTER TABLE rt_voucher ADD CONSTRAINT rt_voucher_customer_deferred FOREIGN KEY (customer_id) "
            "REFERENCES rt_customer (id) DEFERRABLE INITIALLY DEFERRED"
        )
    else:
        primary.execute_sql("DROP TABLE rt_voucher")
        primary.execute_sql(
            "CREATE TABLE rt_voucher (id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, customer_id INTEGER NOT NULL "
            "REFERENCES rt_customer (id) DEFERRABLE INITIALLY DEFERRED)"
        )


def _committed(router):
    def outside():
        with router.use_primary():
            return Voucher.select().count(), Event.select().count()

    return in_thread(router, outside)


def test_a_failing_second_commit_names_the_committed_database(partitioned):
    router = partitioned.router(MODELS)
    _defer_voucher_foreign_key(router)
    archive = router.databases["archive"]
    session = Session(router)
    try:
        session.add(Event(customer_id=1, kind="first"))
        session.flush()  # the archive is written first, so it commits first
        session.add(Voucher(customer_id=424242))  # no such customer: COMMIT of the primary fails
        session.flush()
        with pytest.raises(tinyorm.TinyORMError) as error:
            session.commit()
    finally:
        session.close()
    message = str(error.value)
    assert repr(archive) in message or "'archive'" in message, message
    assert repr(router.databases["primary"]) not in message.split(":")[0], message
    assert isinstance(error.value.__cause__, IntegrityError)
    # documented behaviour: the archive's commit stands; the primary's work was rolled back
    assert _committed(router) == (0, 1)


def test_a_failing_first_commit_rolls_back_the_rest(partitioned):
    router = partitioned.router(MODELS)
    _defer_voucher_foreign_key(router)
    session = Session(router)
    try:
        session.add(Voucher(customer_id=424242))
        session.flush()  # the primary is written first, so it commits first, and fails
        session.add(Event(customer_id=1, kind="second"))
        session.flush()
        with pytest.raises(IntegrityError) as error:
            session.commit()
    finally:
        session.close()
    assert "after committing" not in str(error.value)
    assert _committed(router) == (0, 0)


# -- a Django-style router subclass that places a model itself --------------------------------------
class Legacy(Model):
    """No Meta.partition: the router subclass below keeps it on the archive database."""

    code = CharField(max_length=20)

    class Meta:
        table_name = "rt_legacy"


class LegacyRouter(tinyorm.Router):
    def db_for_read(self, model):
        if model is Legacy:
            return self.database("archive")
        return super().db_for_read(model)

    def db_for_write(self, model):
        if model is Legacy:
            return self.database("archive")
        return super().db_for_write(model)

    def allow_migrate(self, db_name, model):
        if model is Legacy:
            return db_name == "archive"
        return super().allow_migrate(db_name, model)


def test_a_router_subclass_places_a_model_on_another_database(partitioned):
    router = partitioned.router([Customer, Event, Legacy], router_class=LegacyRouter)
    assert "rt_legacy" in router.databases["archive"].get_tables()
    assert "rt_legacy" not in router.databases["primary"].get_tables()
    with counting(router) as counters:
        Legacy.create(code="a")
        Legacy.insert_many([{"code": "b"}, {"code": "c"}]).execute()
        Legacy.update(code="z").where(Legacy.code == "c").execute()
        with Session(router) as session:
            session.add(Legacy(code="d"))
        codes = sorted(legacy.code for legacy in Legacy.select())
        assert Legacy.select().count() == 4
    assert codes == ["a", "b", "d", "z"]
    assert {name for name, counter in counters.items() if counter.count} == {"archive"}
