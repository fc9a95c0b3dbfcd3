"""Query.iterator() reads through a server-side cursor; Model.copy_from() bulk-loads."""

import datetime
import decimal
import gc
import os
import uuid

import pytest

import tinyorm
from tinyorm import (
    BlobField,
    BooleanField,
    CharField,
    DateField,
    DateTimeField,
    DecimalField,
    FloatField,
    IntegerField,
    JSONField,
    Model,
    TextField,
    UUIDField,
)
from tinyorm.exceptions import DataError, InterfaceError


class Item(Model):
    name = CharField(max_length=40)
    value = IntegerField(default=0)


class Sample(Model):
    text = TextField(null=True)
    label = CharField(max_length=50, null=True)
    number = IntegerField(null=True)
    ratio = FloatField(null=True)
    amount = DecimalField(max_digits=12, decimal_places=4, null=True)
    flag = BooleanField(null=True)
    day = DateField(null=True)
    moment = DateTimeField(null=True)
    data = JSONField(null=True)
    blob = BlobField(null=True)
    key = UUIDField(null=True)


@pytest.fixture
def tables(db):
    for model in (Item, Sample):
        model.bind(db)
    db.create_tables([Item, Sample])
    return db


def fill(db, count):
    """``count`` Item rows made by the server (a cross join of digit tables), fast on every engine."""
    digits = " UNION ALL ".join(f"SELECT {n} AS n" for n in range(10))
    width = len(str(count - 1)) if count > 1 else 1
    joins = ", ".join(f"({digits}) d{i}" for i in range(width))
    number = " + ".join(f"d{i}.n * {10**i}" for i in range(width))
    quote = db.dialect.quote
    db.execute_sql(
        f"INSERT INTO {quote('item')} ({quote('name')}, {quote('value')}) "
        f"SELECT 'item', {number} FROM {joins} WHERE {number} < {count}"
    )


# -- iterator ---------------------------------------------------------------------------------
def test_iterator_yields_every_row_in_order(tables):
    fill(tables, 2500)
    values = [item.value for item in Item.select().order_by(Item.value).iterator(chunk_size=100)]
    assert values == list(range(2500))
    assert [row for row in Item.select(Item.value).where(Item.value < 3).order_by(Item.value).tuples().iterator()] == [
        (0,),
        (1,),
        (2,),
    ]


def test_iterator_on_an_empty_result(tables):
    assert list(Item.select().iterator()) == []
    Item.create(name="after", value=1)  # the connection is usable afterwards
    assert Item.select().count() == 1


def test_iterator_closed_early_leaves_the_connection_usable(tables):
    fill(tables, 5000)
    iterator = Item.select().order_by(Item.value).iterator(chunk_size=10)
    assert next(iterator).value == 0
    iterator.close()
    assert not tables.in_transaction()
    assert Item.select().count() == 5000
    # a loop left by break, the generator then dropped
    for item in Item.select().order_by(Item.value).iterator(chunk_size=10):
        if item.value == 3:
            break
    del item
    gc.collect()
    Item.create(name="next", value=-1)
    assert Item.select().where(Item.value == -1).count() == 1


def test_iterator_inside_a_transaction_sees_its_writes(tables):
    with tables.atomic():
        Item.create(name="uncommitted", value=7)
        assert [item.name for item in Item.select().iterator()] == ["uncommitted"]
        assert tables.in_transaction()
    assert Item.select().count() == 1


@pytest.mark.backends("mysql")
def test_mysql_streaming_connection_refuses_other_statements(tables):
    fill(tables, 100)
    iterator = Item.select().iterator(chunk_size=10)
    next(iterator)
    with pytest.raises(InterfaceError, match="streaming"):
        Item.select().count()
    iterator.close()  # drains the rest of the result
    assert Item.select().count() == 100


@pytest.mark.backends("postgresql")
def test_postgresql_writes_during_the_loop_are_committed(tables, db_url):
    fill(tables, 50)
    for item in Item.select().order_by(Item.value).iterator(chunk_size=10):
        if item.value == 5:
            Item.create(name="during", value=1000)
            break
    other = tinyorm.connect(db_url)
    try:
        assert other.execute_sql("SELECT COUNT(*) FROM item WHERE value = 1000").fetchone()[0] == 1
    finally:
        other.close()


def _resident_bytes():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _growth_while_iterating(query, chunk_size):
    """(rows, how far resident memory rose above where it started), sampled once a chunk.

    RSS rather than tracemalloc: tracing every allocation makes pymysql's row parsing ten
    times slower, and a buffered result (the whole 1M rows, ~150 MB) shows up either way."""
    gc.collect()
    start = peak = _resident_bytes()
    count = 0
    for count, _obj in enumerate(query.iterator(chunk_size=chunk_size), 1):
        if count % chunk_size == 0:
            peak = max(peak, _resident_bytes())
    return count, peak - start


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="reads resident memory from /proc")
def test_iterating_a_million_rows_keeps_memory_flat(tables):
    """Memory while hydrating every row stays a few MB however many rows there are (a
    client-side cursor would hold the whole result first)."""
    fill(tables, 1_000_000)
    small, small_growth = _growth_while_iterating(Item.select().where(Item.value < 100_000), 2000)
    large, large_growth = _growth_while_iterating(Item.select(), 2000)
    assert (small, large) == (100_000, 1_000_000)
    assert large_growth < 16 * 1024 * 1024, f"grew {large_growth / 1e6:.1f} MB iterating 1M rows"
    assert large_growth < small_growth + 8 * 1024 * 1024, (small_growth, large_growth)


# -- copy_from --------------------------------------------------------------------------------
HOSTILE = [
    "tab\there",
    "new\nline",
    "carriage\rreturn",
    "back\\slash \\N \\x41",
    "\\",
    "",
    "ünïcødé ✓ 😀",
    "end with backslash\\",
    "quote ' \" ,",
    "\\.",
]


def test_copy_from_reads_hostile_values_back_exactly(tables):
    rows = [
        {
            "text": text,
            "label": text[:50],
            "number": index - 5,
            "ratio": 1 / 3 if index % 2 else -2.5e-300,
            "amount": decimal.Decimal("12345678.1234") if index % 2 else decimal.Decimal("-0.0001"),
            "flag": index % 2 == 0,
            "day": datetime.date(1999, 12, 31),
            "moment": datetime.datetime(2024, 2, 29, 23, 59, 59, 999999),
            "data": {"text": text, "list": [1, 2.5, None, True], "nested": {"k": "\\t"}},
            "blob": bytes(range(256)) + text.encode(),
            "key": uuid.UUID(int=index),
        }
        for index, text in enumerate(HOSTILE)
    ]
    rows.append({name: None for name in rows[0]})
    assert Sample.copy_from(rows) == len(rows)
    loaded = Sample.select().order_by(Sample.id).dicts()
    assert [{key: value for key, value in row.items() if key != "id"} for row in loaded] == rows


def test_copy_from_takes_tuples_and_any_iterable_in_batches(tables):
    generated = ((f"n{i}", i) for i in range(2345))
    assert Item.copy_from(generated, fields=[Item.name, Item.value], batch_size=500) == 2345
    assert Item.select().count() == 2345
    assert Item.get(Item.value == 2344).name == "n2344"
    # a default fills in a field the rows leave out
    assert Item.copy_from([{"name": "defaulted"}]) == 1
    assert Item.get(Item.name == "defaulted").value == 0
    assert Item.copy_from([]) == 0


def test_copy_from_rows_of_different_shapes(tables):
    rows = [{"name": "a", "value": 1}, {"name": "b"}, ("c", 3)]
    assert Item.copy_from(rows, fields=["name", "value"], batch_size=1) == 3
    assert sorted(Item.select(Item.name, Item.value).tuples()) == [("a", 1), ("b", 0), ("c", 3)]


@pytest.mark.parametrize(
    "bad",
    [
        {"name": "x" * 41, "value": 1},  # longer than max_length
        {"name": "ok", "value": "not a number"},
        {"name": "ok", "nonexistent": 1},
    ],
)
def test_copy_from_refuses_what_insert_many_refuses_and_loads_nothing(tables, bad):
    good = [{"name": f"g{i}", "value": i} for i in range(30)]
    with pytest.raises(Exception) as via_insert:
        Item.insert_many([bad]).execute()
    with pytest.raises(type(via_insert.value)) as via_copy:
        Item.copy_from(good + [bad] + good, batch_size=7)
    assert str(via_copy.value) == str(via_insert.value)
    assert Item.select().count() == 0
    assert Item.copy_from(good) == 30  # the connection and its transaction state are sound


@pytest.mark.requires(text_allows_nul=False)
def test_copy_from_refuses_nul_in_text(tables):
    with pytest.raises(DataError, match="NUL"):
        Item.copy_from([("nul\x00here", 1)], fields=["name", "value"])
    assert Item.select().count() == 0


def test_copy_from_inside_a_transaction_rolls_back_with_it(tables):
    with pytest.raises(RuntimeError):
        with tables.atomic():
            Item.copy_from([("a", 1), ("b", 2)], fields=["name", "value"])
            assert Item.select().count() == 2
            raise RuntimeError("undo")
    assert Item.select().count() == 0
