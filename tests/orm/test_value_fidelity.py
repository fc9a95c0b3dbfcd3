"""Value fidelity at the edges: every value is stored exactly (read back by a fresh query)
or refused with DataError naming the field before any SQL is sent; values other clients
wrote are read exactly or refused with DataError naming the field and the row key."""

import datetime
import decimal
import math

import pytest

from tinyorm import (
    BigIntegerField,
    BlobField,
    BooleanField,
    CharField,
    DataError,
    DateField,
    DateTimeField,
    DecimalField,
    FloatField,
    IntegerField,
    Model,
    SmallIntegerField,
    TextField,
    TimeField,
)

D = decimal.Decimal
REFUSED = object()  # the value must be refused with DataError, before any SQL


def make_model(db):
    class Edge(Model):
        small = SmallIntegerField(null=True)
        integer = IntegerField(null=True)
        big = BigIntegerField(null=True)
        money = DecimalField(12, 4, null=True)
        wide = DecimalField(38, 10, null=True)
        flt = FloatField(null=True)
        char = CharField(max_length=20, null=True)
        text = TextField(null=True)
        when = DateTimeField(null=True)
        day = DateField(null=True)
        clock = TimeField(null=True)
        blob = BlobField(null=True)
        flag = BooleanField(null=True)

        class Meta:
            database = db

    db.create_tables([Edge])
    return Edge


def integer_cases():
    cases = []
    for name, bits in (("small", 16), ("integer", 32), ("big", 64)):
        low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
        cases += [(name, value, value) for value in (low, low + 1, -1, 0, 1, high - 1, high)]
        cases += [(name, low - 1, REFUSED), (name, high + 1, REFUSED)]
        cases += [(name, float(7), 7), (name, D("12"), 12), (name, "42", 42), (name, True, 1)]
        cases += [(name, value, REFUSED) for value in (1.5, D("1.5"), "12abc", "", float("inf"), float("nan"))]
        cases += [(name, D(text), REFUSED) for text in ("Infinity", "-Infinity", "NaN", "sNaN")]
    return cases


def decimal_cases():
    return [
        ("money", D("99999999.9999"), D("99999999.9999")),
        ("money", D("-99999999.9999"), D("-99999999.9999")),
        ("money", D("0.0001"), D("0.0001")),
        ("money", D("1.5"), D("1.5000")),
        ("money", 3, D("3.0000")),
        ("money", "12.3400", D("12.3400")),
        ("money", D("100000000"), REFUSED),
        ("money", D("0.00001"), REFUSED),
        ("money", D("Infinity"), REFUSED),
        ("money", D("NaN"), REFUSED),
        ("money", D("sNaN"), REFUSED),
        ("money", D("-0.0000"), REFUSED),
        ("money", "abc", REFUSED),
        ("wide", D("9" * 28 + "." + "9" * 10), D("9" * 28 + "." + "9" * 10)),
        ("wide", D("-" + "9" * 28 + "." + "9" * 10), D("-" + "9" * 28 + "." + "9" * 10)),
        ("wide", D("0." + "0" * 9 + "1"), D("0." + "0" * 9 + "1")),
        ("wide", D("1" + "0" * 28), REFUSED),
    ]


def float_cases(dialect):
    finite = [0.0, 1.0, -1.5, 0.1, 1e308, -1e308, 2.2250738585072014e-308, 5e-324, -5e-324, 1.7976931348623157e308]
    cases = [("flt", value, value) for value in finite]
    cases += [("flt", 2**53, float(2**53)), ("flt", D("0.5"), 0.5), ("flt", "2.5", 2.5)]
    cases += [("flt", value, REFUSED) for value in (10**400, "1e400", D("1e400"), -0.0, "abc")]
    cases.append(("flt", float("inf"), float("inf") if dialect.float_allows_infinity else REFUSED))
    cases.append(("flt", float("-inf"), float("-inf") if dialect.float_allows_infinity else REFUSED))
    cases.append(("flt", float("nan"), "nan" if dialect.float_allows_nan else REFUSED))
    return cases


def text_cases(dialect):
    texts = ["", " ", "a" * 20, "é" * 20, "日本語", "\U0001f600" * 20, "\U00010348", "tab\there", "line\nbreak"]
    texts += ["quote'", 'dq"', "back\\slash", "100%", "%%s", "?", "trailing   ", "\u200b", "a\r\nb"]
    cases = [("char", text, text) for text in texts] + [("text", text * 50, text * 50) for text in texts]
    cases += [("char", "a" * 21, REFUSED), ("char", "\U0001f600" * 21, REFUSED), ("char", "\ud800", REFUSED)]
    cases += [("char", b"bytes", REFUSED), ("text", "\ud83d", REFUSED)]
    nul = "nul\x00inside"
    cases.append(("text", nul, nul if dialect.text_allows_nul else REFUSED))
    return cases


def time_cases():
    dt = datetime.datetime
    aware = dt(2020, 1, 1, tzinfo=datetime.timezone(datetime.timedelta(hours=2)))
    return [
        ("when", dt(1000, 1, 1), dt(1000, 1, 1)),
        ("when", dt(9999, 12, 31, 23, 59, 59, 999999), dt(9999, 12, 31, 23, 59, 59, 999999)),
        ("when", dt(2020, 2, 29, 12, 0, 0, 1), dt(2020, 2, 29, 12, 0, 0, 1)),
        ("when", dt(1970, 1, 1), dt(1970, 1, 1)),
        ("when", dt(2038, 1, 19, 3, 14, 8), dt(2038, 1, 19, 3, 14, 8)),
        ("when", "2021-06-01 10:20:30.000400", dt(2021, 6, 1, 10, 20, 30, 400)),
        ("when", aware, REFUSED),
        ("when", "not a date", REFUSED),
        ("day", datetime.date(1000, 1, 1), datetime.date(1000, 1, 1)),
        ("day", datetime.date(9999, 12, 31), datetime.date(9999, 12, 31)),
        ("day", dt(2020, 1, 1, 12, 0), REFUSED),
        ("day", "2020-02-30", REFUSED),
        ("clock", datetime.time(0, 0), datetime.time(0, 0)),
        ("clock", datetime.time(23, 59, 59, 999999), datetime.time(23, 59, 59, 999999)),
        ("clock", datetime.time(12, 0, 0, 1), datetime.time(12, 0, 0, 1)),
        ("clock", datetime.time(1, tzinfo=datetime.timezone.utc), REFUSED),
    ]


def other_cases():
    return [
        ("blob", b"", b""),
        ("blob", b"\x00\xff\x80" * 100, b"\x00\xff\x80" * 100),
        ("blob", bytes(range(256)), bytes(range(256))),
        ("flag", True, True),
        ("flag", False, False),
        ("flag", "false", REFUSED),
        ("flag", 2, REFUSED),
    ]


def all_cases(dialect):
    return integer_cases() + decimal_cases() + float_cases(dialect) + text_cases(dialect) + time_cases() + other_cases()


def test_edge_values_are_stored_exactly_or_refused_before_sql(db, count_queries):
    Edge = make_model(db)
    cases = all_cases(db.dialect)
    assert len(cases) >= 100
    wrong = []
    for name, value, expected in cases:
        with count_queries(db) as counter:
            try:
                row = Edge.create(**{name: value})
            except DataError as exc:
                if expected is not REFUSED:
                    wrong.append((name, value, f"refused: {exc}"))
                elif counter.count:
                    wrong.append((name, value, f"refused after {counter.count} statements"))
                elif Edge._meta.fields[name].qualified_name not in str(exc):
                    wrong.append((name, value, f"error does not name the field: {exc}"))
                continue
        if expected is REFUSED:
            wrong.append((name, value, "accepted"))
            continue
        stored = Edge.select(getattr(Edge, name)).where(Edge.id == row.id).tuples().get()[0]
        if expected == "nan":
            same = isinstance(stored, float) and math.isnan(stored)
        else:
            same = stored == expected and type(stored) is type(expected)
            if isinstance(expected, decimal.Decimal):
                same = same and str(stored) == str(expected)
        if not same:
            wrong.append((name, value, f"read back {stored!r}, expected {expected!r}"))
    assert wrong == []


def test_updates_refuse_the_same_values(db, count_queries):
    Edge = make_model(db)
    row = Edge.create(integer=1)
    for value in (D("Infinity"), D("sNaN"), 2**31, 1.5, "12abc"):
        with count_queries(db) as counter, pytest.raises(DataError, match="Edge.integer"):
            Edge.update(integer=value).where(Edge.id == row.id).execute()
        assert counter.count == 0
    assert Edge.get_by_id(row.id).integer == 1


def test_where_values_are_converted_or_refused(db, count_queries):
    Edge = make_model(db)
    Edge.create(integer=0, char="")
    with count_queries(db) as counter:
        for value in (D("NaN"), "1 OR 1=1", 10**20):
            with pytest.raises(DataError, match="Edge.integer"):
                list(Edge.select().where(Edge.integer == value))
    assert counter.count == 0
    assert Edge.select().where(Edge.integer == "0").count() == 1


# -- values other clients wrote ------------------------------------------------------------
def _write_raw(db, sql):
    """Store what another client could: with a permissive sql_mode on MySQL/MariaDB."""
    if db.dialect.name == "mysql":
        db.execute_sql("SET SESSION sql_mode = ''")
    try:
        db.execute_sql(sql)
    finally:
        if db.dialect.name == "mysql":
            db.close()  # the next connection gets tinyorm's strict mode again


FOREIGN = {
    # engine: [(column, SQL literal, expected value or REFUSED)]
    "sqlite": [
        ("integer", "'12abc'", REFUSED),
        ("integer", "3.0", 3),
        ("integer", "3.5", REFUSED),
        ("integer", "x'00'", REFUSED),
        ("big", "'abc'", REFUSED),
        ("flt", "'abc'", REFUSED),
        ("flt", "2", 2.0),
        ("flag", "2", REFUSED),
        ("flag", "'yes'", REFUSED),
        ("when", "'2020-01-01 10:00:00+02:00'", REFUSED),
        ("when", "'2020-01-01 10:00:00'", datetime.datetime(2020, 1, 1, 10)),
        ("when", "1577872800", REFUSED),
        ("day", "20200101", REFUSED),
    ],
    "mysql": [
        ("flag", "2", REFUSED),
        ("flag", "-1", REFUSED),
        ("flag", "1", True),
        ("day", "'0000-00-00'", REFUSED),
        ("when", "'0000-00-00 00:00:00'", REFUSED),
    ],
    "postgresql": [
        ("flag", "true", True),
        ("when", "'2020-01-01 10:00:00+02'", datetime.datetime(2020, 1, 1, 10)),
    ],
}


@pytest.mark.parametrize("shape", ["models", "tuples", "dicts", "joined"])
def test_values_other_clients_wrote_are_read_exactly_or_refused(db, shape):
    Edge = make_model(db)
    table = db.dialect.quote("edge")
    wrong = []
    for column, literal, expected in FOREIGN[db.dialect.name]:
        row = Edge.create()
        _write_raw(db, f"UPDATE {table} SET {db.dialect.quote(column)} = {literal} WHERE id = {row.id}")
        field = getattr(Edge, column)
        query = Edge.select().where(Edge.id == row.id)
        try:
            if shape == "models":
                value = getattr(query.get(), column)
            elif shape == "tuples":
                value = Edge.select(Edge.id, field).where(Edge.id == row.id).tuples().get()[1]
            elif shape == "dicts":
                value = Edge.select(Edge.id, field).where(Edge.id == row.id).dicts().get()[column]
            else:
                other = Edge.alias("other")
                joined = Edge.select(Edge, other).join(other, on=(other.id == Edge.id)).where(Edge.id == row.id)
                value = getattr(joined.get(), column)
        except DataError as exc:
            if expected is not REFUSED:
                wrong.append((column, literal, f"refused: {exc}"))
            elif field.qualified_name not in str(exc) or f"key {row.id}" not in str(exc):
                wrong.append((column, literal, f"error names no field and key: {exc}"))
        else:
            if expected is REFUSED or value != expected or type(value) is not type(expected):
                wrong.append((column, literal, f"read {value!r}"))
        Edge.delete().where(Edge.id == row.id).execute()
    assert wrong == []


# -- strict mode and literals follow the session, whatever the URL says -----------------------
def _with_options(url, **options):
    from urllib.parse import urlencode

    return url + ("&" if "?" in url else "?") + urlencode(options)


@pytest.mark.backends("mysql")
@pytest.mark.parametrize(
    "options",
    [{"init_command": "SET sql_mode=''"}, {"sql_mode": ""}, {"sql_mode": "ANSI_QUOTES"}],
    ids=["init_command", "empty_sql_mode", "other_sql_mode"],
)
def test_a_mysql_url_cannot_turn_strict_mode_off(db, db_url, options):
    import tinyorm

    other = tinyorm.connect(_with_options(db_url, **options))
    try:

        class Counter(Model):
            n = SmallIntegerField()

            class Meta:
                database = other

        other.create_tables([Counter])
        row = Counter.create(n=32700)
        mode = other.execute_sql("SELECT @@SESSION.sql_mode").fetchone()[0]
        assert "STRICT_ALL_TABLES" in mode.split(",")
        with pytest.raises(DataError):
            Counter.update(n=Counter.n + 100).where(Counter.id == row.id).execute()
        assert Counter.get_by_id(row.id).n == 32700
    finally:
        other.close_all()


def _server_default_round_trip(url):
    import tinyorm

    other = tinyorm.connect(url)
    try:

        class Path(Model):
            where = CharField(max_length=40, server_default="C:\\temp\\new")
            label = CharField(max_length=10, null=True)

            class Meta:
                database = other

        other.create_tables([Path])
        other.execute_sql(f"INSERT INTO {other.dialect.quote('path')} (label) VALUES ('x')")
        return Path.get().where
    finally:
        other.close_all()


def test_server_defaults_keep_backslashes(db, db_url):
    assert _server_default_round_trip(db_url) == "C:\\temp\\new"


@pytest.mark.backends("mysql")
def test_server_defaults_keep_backslashes_under_no_backslash_escapes(db, db_url):
    assert _server_default_round_trip(_with_options(db_url, sql_mode="NO_BACKSLASH_ESCAPES")) == "C:\\temp\\new"
