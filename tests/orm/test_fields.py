"""The fidelity table: every field type round-trips exactly (same value, same Python type) on
every engine, and a value that does not fit is refused with DataError naming the field,
before anything is written."""

import datetime
import decimal
import math
import uuid

import pytest

import tinyorm
from tinyorm import (
    BigIntegerField,
    BlobField,
    BooleanField,
    CharField,
    DataError,
    DateField,
    DateTimeField,
    DecimalField,
    DoubleField,
    FloatField,
    IntegerField,
    JSONField,
    Model,
    SmallIntegerField,
    TextField,
    TimeField,
    UUIDField,
)

D = decimal.Decimal


def make_models(db):
    class Base(Model):
        class Meta:
            database = db

    class Sample(Base):
        char = CharField(max_length=100, null=True)
        short = CharField(max_length=5, null=True)
        text = TextField(null=True)
        integer = IntegerField(null=True)
        small = SmallIntegerField(null=True)
        big = BigIntegerField(null=True)
        decimal = DecimalField(30, 10, null=True)
        money = DecimalField(8, 2, null=True)
        flt = FloatField(null=True)
        dbl = DoubleField(null=True)
        flag = BooleanField(null=True)
        when = DateTimeField(null=True)
        day = DateField(null=True)
        clock = TimeField(null=True)
        ident = UUIDField(null=True)
        blob = BlobField(null=True)
        doc = JSONField(null=True)

    db.create_tables([Sample])
    return Sample


NULLABLE_FIELDS = [
    "char",
    "short",
    "text",
    "integer",
    "small",
    "big",
    "decimal",
    "money",
    "flt",
    "dbl",
    "flag",
    "when",
    "day",
    "clock",
    "ident",
    "blob",
    "doc",
]

EMOJI = "emoji \U0001f600\U0001f389 na\u00efve \u4e2d\u6587 \U0001f468\u200d\U0001f469\u200d\U0001f467"
QUOTES = "it's \"quoted\" \\ back\\slash \\' \\\\ \\n `tick` %s %(x)s ?"
INJECTION = "'; DROP TABLE x; --"
NESTED_JSON = {
    "list": [1, 2.5, "three", None, True, False, {"deep": [[], {}]}],
    "null": None,
    "unicode": "\u00fc\U0001f600\u4e2d",
    "quote": "a'b\"c\\d",
    "nested": {"a": {"b": {"c": [1, {"d": None}]}}},
    "big": 2**53,
    "neg": -1.5e-10,
}

ROUND_TRIP = [
    ("char", EMOJI),
    ("char", QUOTES),
    ("char", INJECTION),
    ("char", ""),
    ("text", EMOJI * 50),
    ("text", QUOTES),
    ("text", INJECTION),
    ("text", "line1\nline2\r\n\ttab"),
    ("integer", 2**31 - 1),
    ("integer", -(2**31)),
    ("integer", 0),
    ("small", -(2**15)),
    ("small", 2**15 - 1),
    ("big", 2**62),
    ("big", -(2**62)),
    ("big", 2**63 - 1),
    ("big", -(2**63)),
    ("decimal", D("12345678901234567890.1234567890")),
    ("decimal", D("-99999999999999999999.9999999999")),
    ("decimal", D("0.0000000001")),
    ("decimal", D("-0.0000000001")),
    ("decimal", D("1.5")),
    ("money", D("123456.78")),
    ("flt", 0.1),
    ("flt", -1e300),
    ("flt", 1e-300),
    ("dbl", 0.1 + 0.2),
    ("dbl", 2.0**-1074),
    ("flag", True),
    ("flag", False),
    ("when", datetime.datetime(2024, 2, 29, 23, 59, 59, 123456)),
    ("when", datetime.datetime(1970, 1, 1, 0, 0, 0, 1)),
    ("when", datetime.datetime(9999, 12, 31, 23, 59, 59, 999999)),
    ("day", datetime.date(2024, 2, 29)),
    ("day", datetime.date(1000, 1, 1)),
    ("clock", datetime.time(13, 14, 15, 999999)),
    ("clock", datetime.time(0, 0, 0, 1)),
    ("clock", datetime.time(23, 59, 59)),
    ("ident", uuid.UUID("12345678-1234-5678-1234-567812345678")),
    ("ident", uuid.UUID(int=0)),
    ("blob", b"\x00\xff\x00abc\xfe\x80'\"\\"),
    ("blob", bytes(range(256)) * 4),
    ("blob", b""),
    ("doc", NESTED_JSON),
    ("doc", [1, "two", None, {"three": [3]}]),
    ("doc", "just a string \U0001f600"),
    ("doc", 42),
    ("doc", {}),
    ("doc", []),
]


def _case_id(case):
    field, value = case
    text = repr(value)
    return f"{field}-{text[:30]}"


def assert_same(got, expected):
    assert type(got) is type(expected), f"type {type(got).__name__} != {type(expected).__name__}"
    assert got == expected


@pytest.mark.parametrize("case", ROUND_TRIP, ids=_case_id)
def test_round_trip(db, case):
    Sample = make_models(db)
    field, value = case
    obj = Sample.create(**{field: value})
    # the instance in hand keeps the value as given
    assert_same(getattr(obj, field), value)
    fetched = Sample.get_by_id(obj.id)
    assert_same(getattr(fetched, field), value)
    # every other field is None when not given
    for other in NULLABLE_FIELDS:
        if other != field:
            assert getattr(fetched, other) is None
    # and the same through a plain select
    row = Sample.select(getattr(Sample, field)).where(Sample.id == obj.id).tuples().get()
    assert_same(row[0], value)


@pytest.mark.parametrize("case", [c for c in ROUND_TRIP if c[0] != "doc"], ids=_case_id)
def test_value_usable_in_where(db, case):
    """A stored value can be found again by equality with the same Python value."""
    Sample = make_models(db)
    field, value = case
    obj = Sample.create(**{field: value})
    Sample.create(**{field: None})
    found = list(Sample.select().where(getattr(Sample, field) == value))
    assert [o.id for o in found] == [obj.id]


def test_all_fields_in_one_row(db):
    Sample = make_models(db)
    values = {}
    for field, value in ROUND_TRIP:
        values.setdefault(field, value)
    obj = Sample.create(**values)
    fetched = Sample.get_by_id(obj.id)
    for field, value in values.items():
        assert_same(getattr(fetched, field), value)


def test_update_round_trip(db):
    Sample = make_models(db)
    obj = Sample.create(char="a", big=1, decimal=D("1"), when=datetime.datetime(2000, 1, 1))
    obj.char = EMOJI
    obj.big = 2**62
    obj.decimal = D("12345678901234567890.1234567890")
    obj.when = datetime.datetime(2024, 2, 29, 23, 59, 59, 123456)
    obj.blob = b"\x00\xff"
    obj.doc = NESTED_JSON
    obj.save()
    fetched = Sample.get_by_id(obj.id)
    assert_same(fetched.char, EMOJI)
    assert_same(fetched.big, 2**62)
    assert_same(fetched.decimal, D("12345678901234567890.1234567890"))
    assert_same(fetched.when, datetime.datetime(2024, 2, 29, 23, 59, 59, 123456))
    assert_same(fetched.blob, b"\x00\xff")
    assert_same(fetched.doc, NESTED_JSON)


@pytest.mark.parametrize("field", NULLABLE_FIELDS)
def test_none_round_trips_as_null(db, field):
    Sample = make_models(db)
    obj = Sample.create(**{field: None})
    fetched = Sample.get_by_id(obj.id)
    assert getattr(fetched, field) is None
    # it is SQL NULL, so `== None` (IS NULL) finds it
    assert Sample.select().where(getattr(Sample, field) == None).count() == 1  # noqa: E711
    # and setting a value back to None writes NULL
    Sample.update(**{field: None}).where(Sample.id == obj.id).execute()
    assert getattr(Sample.get_by_id(obj.id), field) is None


def test_json_null_is_not_stored_as_json_text(db):
    """JSON ``None`` is SQL NULL; nested ``None`` stays JSON null."""
    Sample = make_models(db)
    obj = Sample.create(doc={"a": None})
    assert Sample.get_by_id(obj.id).doc == {"a": None}
    assert Sample.select().where(Sample.doc.is_null()).count() == 0


# -- refusals ---------------------------------------------------------------------------------
REFUSED = [
    ("short", "toolong", "Sample.short"),
    ("short", "\U0001f600" * 6, "Sample.short"),
    ("char", "x" * 101, "Sample.char"),
    ("integer", 2**31, "Sample.integer"),
    ("integer", -(2**31) - 1, "Sample.integer"),
    ("small", 2**15, "Sample.small"),
    ("big", 2**63, "Sample.big"),
    ("big", -(2**63) - 1, "Sample.big"),
    ("integer", "abc", "Sample.integer"),
    ("integer", "1 OR 1=1", "Sample.integer"),
    ("integer", 1.5, "Sample.integer"),
    ("integer", object(), "Sample.integer"),
    ("when", "not a date", "Sample.when"),
    ("when", datetime.datetime(2024, 1, 1, 12, tzinfo=datetime.timezone.utc), "Sample.when"),
    (
        "when",
        datetime.datetime(2024, 1, 1, 12, tzinfo=datetime.timezone(datetime.timedelta(hours=2))),
        "Sample.when",
    ),
    ("day", "not a date", "Sample.day"),
    ("clock", "25:99", "Sample.clock"),
    ("decimal", D("1.12345678901"), "Sample.decimal"),
    ("decimal", D("100000000000000000000"), "Sample.decimal"),
    ("decimal", D("NaN"), "Sample.decimal"),
    ("decimal", "abc", "Sample.decimal"),
    ("money", D("1234567.00"), "Sample.money"),
    ("money", D("0.001"), "Sample.money"),
    ("ident", "not-a-uuid", "Sample.ident"),
    ("blob", "text, not bytes", "Sample.blob"),
    ("text", b"bytes \x00 are not text", "Sample.text"),
    ("flt", "abc", "Sample.flt"),
    ("flag", "yes", "Sample.flag"),
    ("doc", {"not": object()}, "Sample.doc"),
]


def _refused_id(case):
    field, value, _ = case
    return f"{field}-{repr(value)[:30]}"


@pytest.mark.parametrize("case", REFUSED, ids=_refused_id)
def test_refused_on_insert(db, count_queries, case):
    Sample = make_models(db)
    field, value, name = case
    with count_queries(db) as counter:
        with pytest.raises(DataError) as info:
            Sample.create(**{field: value})
    assert name in str(info.value)
    assert isinstance(info.value, tinyorm.DatabaseError)
    # refused before any SQL was sent, and nothing is stored
    assert counter.count == 0
    assert Sample.select().count() == 0


@pytest.mark.parametrize("case", REFUSED[::3], ids=_refused_id)
def test_refused_on_update_keeps_old_value(db, case):
    Sample = make_models(db)
    field, value, name = case
    obj = Sample.create(char="kept")
    setattr(obj, field, value)
    with pytest.raises(DataError) as info:
        obj.save()
    assert name in str(info.value)
    fetched = Sample.get_by_id(obj.id)
    assert fetched.char == "kept"
    assert getattr(fetched, field) is None or field == "char"


@pytest.mark.parametrize("case", REFUSED[:10], ids=_refused_id)
def test_refused_in_bulk_update(db, case):
    Sample = make_models(db)
    field, value, name = case
    obj = Sample.create(char="kept")
    with pytest.raises(DataError) as info:
        Sample.update(**{field: value}).where(Sample.id == obj.id).execute()
    assert name in str(info.value)
    assert Sample.get_by_id(obj.id).char == "kept"


def test_string_is_not_silently_truncated_on_any_path(db):
    Sample = make_models(db)
    with pytest.raises(DataError, match="Sample.short"):
        Sample.insert(short="abcdef").execute()
    with pytest.raises(DataError, match="Sample.short"):
        Sample.insert_many([{"short": "ok"}, {"short": "abcdef"}]).execute()
    assert Sample.select().count() == 0


@pytest.mark.parametrize("key", ["1 OR 1=1", "abc", "1; DROP TABLE sample", 2**40])
def test_bad_integer_key_in_get_by_id(db, count_queries, key):
    Sample = make_models(db)
    Sample.create(char="a")
    with count_queries(db) as counter:
        with pytest.raises(DataError) as info:
            Sample.get_by_id(key)
    assert "Sample.id" in str(info.value)
    assert counter.count == 0


@pytest.mark.parametrize("key", ["1 OR 1=1", "abc"])
def test_bad_integer_in_where(db, count_queries, key):
    Sample = make_models(db)
    Sample.create(char="a", integer=1)
    with count_queries(db) as counter:
        with pytest.raises(DataError) as info:
            list(Sample.select().where(Sample.id == key))
        with pytest.raises(DataError) as info2:
            list(Sample.select().where(Sample.integer > key))
        with pytest.raises(DataError) as info3:
            Sample.get(Sample.integer.in_([1, key]))
        with pytest.raises(DataError) as info4:
            list(Sample.filter(integer=key))
    assert "Sample.id" in str(info.value)
    assert "Sample.integer" in str(info2.value)
    assert "Sample.integer" in str(info3.value)
    assert "Sample.integer" in str(info4.value)
    assert counter.count == 0


def test_integer_key_as_numeric_string_is_converted(db):
    Sample = make_models(db)
    obj = Sample.create(char="a")
    assert Sample.get_by_id(str(obj.id)).char == "a"


def test_bad_date_in_where(db):
    Sample = make_models(db)
    with pytest.raises(DataError, match="Sample.when"):
        list(Sample.select().where(Sample.when < "not a date"))


def test_nul_in_text_refused_on_postgresql_stored_elsewhere(db):
    Sample = make_models(db)
    value = "before\x00after"
    if not db.dialect.text_allows_nul:
        with pytest.raises(DataError) as info:
            Sample.create(text=value)
        assert "Sample.text" in str(info.value)
        with pytest.raises(DataError, match="Sample.char"):
            Sample.create(char=value)
        assert Sample.select().count() == 0
    else:
        obj = Sample.create(text=value, char=value)
        fetched = Sample.get_by_id(obj.id)
        assert_same(fetched.text, value)
        assert_same(fetched.char, value)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")], ids=["nan", "inf", "-inf"])
def test_non_finite_floats(db, value):
    Sample = make_models(db)
    allowed = db.dialect.float_allows_nan if math.isnan(value) else db.dialect.float_allows_infinity
    refused = not allowed
    if refused:
        with pytest.raises(DataError) as info:
            Sample.create(flt=value)
        assert "Sample.flt" in str(info.value)
        assert Sample.select().count() == 0
    else:
        obj = Sample.create(flt=value)
        got = Sample.get_by_id(obj.id).flt
        assert type(got) is float
        assert (math.isnan(got) and math.isnan(value)) or got == value


def test_decimal_keeps_every_digit(db):
    """SQLite has no decimal type; digits must still not be lost (no float detour)."""
    Sample = make_models(db)
    values = [
        D("12345678901234567890.1234567891"),
        D("12345678901234567890.1234567892"),
        D("0.1000000001"),
    ]
    ids = [Sample.create(decimal=value).id for value in values]
    for obj_id, value in zip(ids, values):
        got = Sample.get_by_id(obj_id).decimal
        assert type(got) is D
        assert got == value
    # neighbouring values stay distinct in SQL too
    assert Sample.select().where(Sample.decimal == values[1]).count() == 1


def test_decimal_from_int_and_string(db):
    Sample = make_models(db)
    obj = Sample.create(decimal=5, money="12.34")
    fetched = Sample.get_by_id(obj.id)
    assert_same(fetched.decimal, D(5))
    assert_same(fetched.money, D("12.34"))


def test_boolean_reads_back_as_bool(db):
    Sample = make_models(db)
    Sample.create(flag=True)
    Sample.create(flag=False)
    values = [row[0] for row in Sample.select(Sample.flag).order_by(Sample.id).tuples()]
    assert values == [True, False]
    assert all(type(v) is bool for v in values)
    assert Sample.select().where(Sample.flag == True).count() == 1  # noqa: E712


def test_datetime_ordering_keeps_microseconds(db):
    Sample = make_models(db)
    base = datetime.datetime(2024, 1, 1, 12, 0, 0)
    for micro in (3, 1, 2):
        Sample.create(when=base.replace(microsecond=micro), integer=micro)
    ordered = [o.integer for o in Sample.select().order_by(Sample.when)]
    assert ordered == [1, 2, 3]
    assert Sample.select().where(Sample.when > base.replace(microsecond=1)).count() == 2


def test_char_at_max_length_counts_characters_not_bytes(db):
    Sample = make_models(db)
    value = "\U0001f600" * 5  # 5 characters, 20 bytes in UTF-8
    obj = Sample.create(short=value)
    assert_same(Sample.get_by_id(obj.id).short, value)


def test_unencodable_text_refused_naming_field(db):
    """A lone surrogate cannot be stored as UTF-8 text on any engine."""
    Sample = make_models(db)
    with pytest.raises(DataError) as info:
        Sample.create(text="bad\ud800")
    assert "Sample.text" in str(info.value)
    assert Sample.select().count() == 0


def test_json_string_with_nul(db):
    """PostgreSQL's JSONB cannot hold \\u0000: refused there, stored exactly elsewhere."""
    Sample = make_models(db)
    value = {"a": "x\x00y"}
    if not db.dialect.text_allows_nul:  # JSONB keeps strings as text, which holds no NUL
        with pytest.raises(DataError):
            Sample.create(doc=value)
        assert Sample.select().count() == 0
    else:
        obj = Sample.create(doc=value)
        assert_same(Sample.get_by_id(obj.id).doc, value)
