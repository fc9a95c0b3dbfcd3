"""``tinyorm introspect URL``: model classes for an existing database, that import and
query it as it is.

Round trip on every engine: tables made by tinyorm models (foreign keys, unique, index,
composite key, nullable, decimal, datetime) -> introspect -> import the output -> query and
write through it; the generated models also autogenerate "no changes". Then a database
tinyorm did not make: a small Chinook-like schema (CamelCase names, self-reference,
composite key, NUMERIC money) on every engine, queried through the generated models and
compared with hand-written SQL. When the real Chinook sample database is at hand (see
``CHINOOK``), one optional test does the same on it.
"""

import datetime
import decimal
import importlib.util
import os
import pathlib
import re
import shutil
import subprocess
import sys
import uuid

import pytest

import tinyorm
from tinyorm import (
    BigIntegerField,
    BlobField,
    BooleanField,
    CharField,
    CompositeKey,
    DateField,
    DateTimeField,
    DecimalField,
    FloatField,
    ForeignKeyField,
    IntegerField,
    JSONField,
    Model,
    SmallIntegerField,
    TextField,
    TimeField,
    UUIDField,
    fn,
)

from .conftest import Result, clean_env, tinyorm_command

# The public Chinook sample database, outside this repository. Optional: only
# test_optional_real_chinook_* uses it, and skips without it.
CHINOOK = pathlib.Path(
    os.environ.get(
        "TINYORM_CHINOOK_SQLITE",
        pathlib.Path(__file__).resolve().parents[3] / "shared" / "data" / "Chinook_Sqlite.sqlite",
    )
)


def introspect(url, cwd, *options):
    completed = subprocess.run(
        tinyorm_command("introspect", url, *options),
        check=False,
        cwd=cwd,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    result = Result(["introspect", url, *options], completed.returncode, completed.stdout, completed.stderr)
    assert result.code == 0, result
    return result.out


_loaded = []


def load_module(source, directory, name):
    """Write ``source`` to ``directory/name.py`` and import it under a unique module name."""
    path = pathlib.Path(directory) / f"{name}.py"
    path.write_text(source, encoding="utf-8")
    module_name = f"{name}_{uuid.uuid4().hex[:8]}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    _loaded.append(module)
    return module


@pytest.fixture(autouse=True)
def _close_generated_databases():
    yield
    while _loaded:
        module = _loaded.pop()
        sys.modules.pop(module.__name__, None)
        database = getattr(module, "database", None)
        if database is not None:
            database.close_all()


def by_table(module):
    """{table name: model class} for the models a generated module defines."""
    return {
        value._meta.table_name: value
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, Model) and value is not Model and value.__name__ != "BaseModel"
    }


# -- round trip ----------------------------------------------------------------------------------
def _make_bookshop(db):
    class Base(Model):
        class Meta:
            database = db

    class Author(Base):
        name = CharField(max_length=80, unique=True)
        born = DateField(null=True)

        class Meta:
            table_name = "authors"

    class Book(Base):
        author = ForeignKeyField(Author, backref="books", on_delete="CASCADE")
        editor = ForeignKeyField(Author, backref="edited", null=True)
        title = CharField(max_length=200, index=True)
        price = DecimalField(max_digits=10, decimal_places=2)
        published = DateTimeField(null=True)
        pages = IntegerField()
        in_print = BooleanField()

        class Meta:
            table_name = "books"
            indexes = ((("author", "title"), True),)

    class Tag(Base):
        label = CharField(max_length=30, unique=True)

    class BookTag(Base):
        book = ForeignKeyField(Book, backref="book_tags", on_delete="CASCADE")
        tag = ForeignKeyField(Tag, backref="book_tags")
        weight = FloatField(null=True)

        class Meta:
            table_name = "book_tag"
            primary_key = CompositeKey("book", "tag")

    db.create_tables([Author, Book, Tag, BookTag])
    frank = Author.create(name="Frank Herbert", born=datetime.date(1920, 10, 8))
    ursula = Author.create(name="Ursula K. Le Guin")
    dune = Book.create(
        author=frank,
        editor=ursula,
        title="Dune",
        price=decimal.Decimal("19.99"),
        published=datetime.datetime(1965, 8, 1, 12, 30, 15, 123456),
        pages=412,
        in_print=True,
    )
    Book.create(author=frank, title="Dune Messiah", price=decimal.Decimal("9.50"), pages=256, in_print=False)
    earthsea = Book.create(
        author=ursula, title="A Wizard of Earthsea", price=decimal.Decimal("12345678.01"), pages=183, in_print=True
    )
    scifi = Tag.create(label="sci-fi")
    fantasy = Tag.create(label="fantasy")
    BookTag.create(book=dune, tag=scifi, weight=0.5)
    BookTag.create(book=earthsea, tag=fantasy, weight=None)
    return dune, scifi


def test_introspect_round_trip(db, project):
    _make_bookshop(db)
    source = introspect(project.url, project.path)
    assert "unique=True" in source and "index=True" in source and "CompositeKey(" in source
    assert "DecimalField(max_digits=10, decimal_places=2" in source
    assert "ForeignKeyField(" in source and "backref=" in source

    module = load_module(source, project.path, "introspected")
    models = by_table(module)
    assert set(models) == {"authors", "books", "tag", "book_tag"}
    Authors, Books, Tag, BookTag = (models[name] for name in ("authors", "books", "tag", "book_tag"))

    assert Authors.select().count() == 2 and Books.select().count() == 3
    dune = Books.get(Books.title == "Dune")
    assert dune.price == decimal.Decimal("19.99") and isinstance(dune.price, decimal.Decimal)
    assert dune.published == datetime.datetime(1965, 8, 1, 12, 30, 15, 123456)
    assert dune.in_print is True and dune.pages == 412
    author_field = Books._meta.fields["author"]
    editor_field = Books._meta.fields["editor"]
    assert dune.author.name == "Frank Herbert" and dune.editor.name == "Ursula K. Le Guin"
    messiah = Books.get(Books.title == "Dune Messiah")
    assert messiah.editor is None and messiah.published is None
    assert Books.get(Books.pages == 183).price == decimal.Decimal("12345678.01")
    frank = Authors.get(Authors.name == "Frank Herbert")
    assert frank.born == datetime.date(1920, 10, 8)
    assert sorted(book.title for book in getattr(frank, author_field.backref)) == ["Dune", "Dune Messiah"]
    ursula = Authors.get(Authors.name == "Ursula K. Le Guin")
    assert [book.title for book in getattr(ursula, editor_field.backref)] == ["Dune"]
    assert [
        b.title for b in Books.select().join(Authors, on=(Books.author == Authors.id)).where(Authors.born.is_null())
    ] == ["A Wizard of Earthsea"]
    assert Books.select().filter(author__name="Frank Herbert").count() == 2

    scifi = Tag.get(Tag.label == "sci-fi")
    link = BookTag.get((BookTag.book == dune.id) & (BookTag.tag == scifi.id))
    assert link.weight == 0.5 and link.book.title == "Dune" and link.tag.label == "sci-fi"
    assert BookTag.select().where(BookTag.weight.is_null()).count() == 1

    # Writes go through as well, and the database's constraints still hold.
    new = Authors.create(name="Iain M. Banks")
    Books.create(author=new, title="Excession", price=decimal.Decimal("7.00"), pages=451, in_print=True)
    BookTag.create(book=Books.get(Books.title == "Excession"), tag=scifi)
    with pytest.raises(tinyorm.IntegrityError):
        Authors.create(name="Iain M. Banks")
    with pytest.raises(tinyorm.IntegrityError):
        Books.create(author=new, title="Excession", price=decimal.Decimal(1), pages=1, in_print=False)

    # The generated models describe the database exactly: autogenerate finds nothing to do.
    result = project.run("--models", "introspected", "migrate", "make", "check", models=False)
    assert "no changes" in result.out.lower(), result
    assert project.migration_files() == []

    # --tables limits the output to those tables.
    source = introspect(project.url, project.path, "--tables", "authors", "books")
    assert "class Tag" not in source and "class BookTag" not in source
    module = load_module(source, project.path, "introspected_some")
    assert set(by_table(module)) == {"authors", "books"}
    assert by_table(module)["books"].select().count() == 4


def test_introspected_models_read_values_as_they_were_written(db, project):
    class Base(Model):
        class Meta:
            database = db

    class Sample(Base):
        big = BigIntegerField()
        small = SmallIntegerField()
        ratio = FloatField()
        amount = DecimalField(max_digits=20, decimal_places=6)
        title = CharField(max_length=40)
        body = TextField()
        flag = BooleanField()
        at = DateTimeField()
        day = DateField()
        clock = TimeField()
        key = UUIDField()
        raw = BlobField()
        doc = JSONField()

    db.create_tables([Sample])
    values = {
        "big": 2**40,
        "small": -3,
        "ratio": 0.1,
        "amount": decimal.Decimal("12345678901234.123456"),
        "title": "Zoë ☃",
        "body": "back\\slash",
        "flag": False,
        "at": datetime.datetime(2024, 2, 29, 23, 59, 59, 999999),
        "day": datetime.date(2024, 2, 29),
        "clock": datetime.time(1, 2, 3, 456789),
        "key": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "raw": b"\x00\xff",
        "doc": {"a": [1, 2.5, None]},
    }
    Sample.create(**values)
    module = load_module(introspect(project.url, project.path), project.path, "introspected")
    row = by_table(module)["sample"].select().first()
    read = {name: getattr(row, name) for name in values}
    assert read == values


def test_introspect_keeps_server_defaults(db, project):
    """Columns with a database DEFAULT: rows created through the models get those values."""
    key = {"sqlite": "INTEGER", "postgresql": "SERIAL", "mysql": "INTEGER AUTO_INCREMENT"}[db.dialect.name]
    db.execute_sql(
        f"CREATE TABLE settings (id {key} PRIMARY KEY, retries INTEGER NOT NULL DEFAULT 5, "
        "mode VARCHAR(10) NOT NULL DEFAULT 'fast', ratio INTEGER DEFAULT 0)"
    )
    module = load_module(introspect(project.url, project.path), project.path, "introspected")
    Settings = by_table(module)["settings"]
    created = Settings.create()
    row = Settings.get_by_id(created.id)
    assert (row.retries, row.mode, row.ratio) == (5, "fast", 0)


@pytest.mark.backends("postgresql")
def test_introspect_identity_columns_as_auto_fields(db, project):
    """PostgreSQL 10+ identity columns (how the current Chinook script declares keys)."""
    db.execute_sql(
        "CREATE TABLE artist (artist_id INT NOT NULL GENERATED ALWAYS AS IDENTITY, name VARCHAR(120), "
        "CONSTRAINT artist_pkey PRIMARY KEY (artist_id))"
    )
    db.execute_sql("INSERT INTO artist (name) VALUES ('AC/DC')")
    source = introspect(project.url, project.path)
    module = load_module(source, project.path, "introspected")
    Artist = by_table(module)["artist"]
    assert Artist.get_by_id(1).name == "AC/DC"
    created = Artist.create(name="Accept")
    assert created.artist_id == 2


@pytest.mark.backends("sqlite")
def test_sqlite_foreign_keys_seen_after_another_connection_changes_them(db, db_url):
    """A long-lived process must see the keys another process (``tinyorm migrate up``) added."""
    db.execute_sql("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
    db.execute_sql("CREATE TABLE child (id INTEGER PRIMARY KEY, x INTEGER)")
    assert db.get_foreign_keys("child") == []
    other = tinyorm.connect(db_url)
    try:
        other.execute_sql("ALTER TABLE child ADD COLUMN parent_id INTEGER REFERENCES parent (id)")
    finally:
        other.close()
    assert [(fk.column, fk.dest_table) for fk in db.get_foreign_keys("child")] == [("parent_id", "parent")]


# -- a database tinyorm did not make: Chinook-like ----------------------------------------------------
# (table, [(column, type, nullable)], primary key, [(column, parent table, parent column)])
CHINOOK_LIKE = [
    ("Artist", [("ArtistId", "INTEGER", False), ("Name", "NVARCHAR(120)", True)], ["ArtistId"], []),
    ("Genre", [("GenreId", "INTEGER", False), ("Name", "NVARCHAR(120)", True)], ["GenreId"], []),
    ("MediaType", [("MediaTypeId", "INTEGER", False), ("Name", "NVARCHAR(120)", True)], ["MediaTypeId"], []),
    (
        "Album",
        [("AlbumId", "INTEGER", False), ("Title", "NVARCHAR(160)", False), ("ArtistId", "INTEGER", False)],
        ["AlbumId"],
        [("ArtistId", "Artist", "ArtistId")],
    ),
    (
        "Track",
        [
            ("TrackId", "INTEGER", False),
            ("Name", "NVARCHAR(200)", False),
            ("AlbumId", "INTEGER", True),
            ("MediaTypeId", "INTEGER", False),
            ("GenreId", "INTEGER", True),
            ("Composer", "NVARCHAR(220)", True),
            ("Milliseconds", "INTEGER", False),
            ("Bytes", "INTEGER", True),
            ("UnitPrice", "NUMERIC(10,2)", False),
        ],
        ["TrackId"],
        [("AlbumId", "Album", "AlbumId"), ("GenreId", "Genre", "GenreId"), ("MediaTypeId", "MediaType", "MediaTypeId")],
    ),
    (
        "Employee",
        [
            ("EmployeeId", "INTEGER", False),
            ("LastName", "NVARCHAR(20)", False),
            ("FirstName", "NVARCHAR(20)", False),
            ("Title", "NVARCHAR(30)", True),
            ("ReportsTo", "INTEGER", True),
            ("HireDate", "DATETIME", True),
        ],
        ["EmployeeId"],
        [("ReportsTo", "Employee", "EmployeeId")],
    ),
    (
        "Customer",
        [
            ("CustomerId", "INTEGER", False),
            ("FirstName", "NVARCHAR(40)", False),
            ("LastName", "NVARCHAR(20)", False),
            ("Email", "NVARCHAR(60)", False),
            ("SupportRepId", "INTEGER", True),
        ],
        ["CustomerId"],
        [("SupportRepId", "Employee", "EmployeeId")],
    ),
    (
        "Invoice",
        [
            ("InvoiceId", "INTEGER", False),
            ("CustomerId", "INTEGER", False),
            ("InvoiceDate", "DATETIME", False),
            ("Total", "NUMERIC(10,2)", False),
        ],
        ["InvoiceId"],
        [("CustomerId", "Customer", "CustomerId")],
    ),
    (
        "InvoiceLine",
        [
            ("InvoiceLineId", "INTEGER", False),
            ("InvoiceId", "INTEGER", False),
            ("TrackId", "INTEGER", False),
            ("UnitPrice", "NUMERIC(10,2)", False),
            ("Quantity", "INTEGER", False),
        ],
        ["InvoiceLineId"],
        [("InvoiceId", "Invoice", "InvoiceId"), ("TrackId", "Track", "TrackId")],
    ),
    ("Playlist", [("PlaylistId", "INTEGER", False), ("Name", "NVARCHAR(120)", True)], ["PlaylistId"], []),
    (
        "PlaylistTrack",
        [("PlaylistId", "INTEGER", False), ("TrackId", "INTEGER", False)],
        ["PlaylistId", "TrackId"],
        [("PlaylistId", "Playlist", "PlaylistId"), ("TrackId", "Track", "TrackId")],
    ),
]

CHINOOK_ROWS = {
    "Artist": [(1, "AC/DC"), (2, "Accept"), (3, "Aerosmith")],
    "Genre": [(1, "Rock"), (2, "Jazz")],
    "MediaType": [(1, "MPEG audio file")],
    "Album": [
        (1, "For Those About To Rock We Salute You", 1),
        (2, "Balls to the Wall", 2),
        (3, "Let There Be Rock", 1),
    ],
    "Track": [
        (
            1,
            "For Those About To Rock (We Salute You)",
            1,
            1,
            1,
            "Angus Young, Malcolm Young, Brian Johnson",
            343719,
            11170334,
            "0.99",
        ),
        (2, "Balls to the Wall", 2, 1, 1, None, 342562, 5510424, "0.99"),
        (3, "Go Down", 3, 1, 1, "AC/DC", 331180, 10847611, "0.99"),
        (4, "Loose Track", None, 1, None, None, 1000, None, "1.99"),
    ],
    "Employee": [
        (1, "Adams", "Andrew", "General Manager", None, "2002-08-14 00:00:00"),
        (2, "Edwards", "Nancy", "Sales Manager", 1, "2002-05-01 00:00:00"),
        (3, "Peacock", "Jane", "Sales Support Agent", 2, "2002-04-01 00:00:00"),
    ],
    "Customer": [
        (1, "Luís", "Gonçalves", "luisg@embraer.com.br", 3),
        (2, "Leonie", "Köhler", "leonekohler@surfeu.de", 3),
        (3, "François", "Tremblay", "ftremblay@gmail.com", None),
    ],
    "Invoice": [
        (1, 2, "2021-01-01 00:00:00", "1.98"),
        (2, 1, "2021-01-02 00:00:00", "3.97"),
        (3, 2, "2021-01-03 00:00:00", "0.99"),
    ],
    "InvoiceLine": [
        (1, 1, 1, "0.99", 1),
        (2, 1, 2, "0.99", 1),
        (3, 2, 3, "0.99", 2),
        (4, 2, 4, "1.99", 1),
        (5, 3, 1, "0.99", 1),
    ],
    "Playlist": [(1, "Music"), (2, "Empty")],
    "PlaylistTrack": [(1, 1), (1, 2), (1, 3)],
}


def build_chinook_like(db):
    """Chinook's shape, made with plain DDL (the way the sample's own scripts make it)."""
    quote = db.dialect.quote
    types = {"postgresql": {"NVARCHAR": "VARCHAR", "DATETIME": "TIMESTAMP"}}.get(db.dialect.name, {})
    for table, columns, primary_key, foreign_keys in CHINOOK_LIKE:
        lines = []
        for name, type_, nullable in columns:
            for old, new in types.items():
                type_ = type_.replace(old, new)
            lines.append(f"{quote(name)} {type_}{'' if nullable else ' NOT NULL'}")
        lines.append(f"CONSTRAINT {quote('PK_' + table)} PRIMARY KEY ({', '.join(quote(c) for c in primary_key)})")
        for column, parent, parent_column in foreign_keys:
            lines.append(f"FOREIGN KEY ({quote(column)}) REFERENCES {quote(parent)} ({quote(parent_column)})")
        db.execute_sql(f"CREATE TABLE {quote(table)} ({', '.join(lines)})")
        for column, _parent, _parent_column in foreign_keys:
            if [column] != primary_key[:1]:
                db.execute_sql(f"CREATE INDEX {quote('IFK_' + table + column)} ON {quote(table)} ({quote(column)})")
    for table, columns, _primary_key, _foreign_keys in CHINOOK_LIKE:
        names = ", ".join(quote(name) for name, _type, _nullable in columns)
        marks = ", ".join([db.dialect.param] * len(columns))
        for row in CHINOOK_ROWS[table]:
            db.execute_sql(f"INSERT INTO {quote(table)} ({names}) VALUES ({marks})", row)


def _money(value):
    return decimal.Decimal(str(value)).quantize(decimal.Decimal("0.01"))


def check_chinook_models(module, sql):
    """Queries through the generated models agree with hand-written SQL.

    ``sql(text)`` runs ``text`` and returns its rows; identifiers are written ``{Name}`` so
    the caller can quote them for its engine (PostgreSQL folds unquoted names to lower case).
    """
    models = by_table(module)
    Artist, Album, Track, Genre = models["Artist"], models["Album"], models["Track"], models["Genre"]
    Employee, Customer, Invoice = models["Employee"], models["Customer"], models["Invoice"]
    InvoiceLine, Playlist, PlaylistTrack = models["InvoiceLine"], models["Playlist"], models["PlaylistTrack"]

    for table, model in models.items():
        assert model.select().count() == sql("SELECT COUNT(*) FROM {" + table + "}")[0][0], table

    # Joins along foreign keys, compared with the same join in SQL.
    titles = [
        track.name
        for track in Track.select().join(Album).join(Artist).where(Artist.name == "AC/DC").order_by(Track.track_id)
    ]
    assert titles == [
        row[0]
        for row in sql(
            "SELECT t.{Name} FROM {Track} t JOIN {Album} a ON a.{AlbumId} = t.{AlbumId} "
            "JOIN {Artist} r ON r.{ArtistId} = a.{ArtistId} WHERE r.{Name} = 'AC/DC' ORDER BY t.{TrackId}"
        )
    ]
    first = Track.get_by_id(1)
    assert first.album.artist.name == "AC/DC" and first.genre.name == "Rock"
    assert isinstance(first.unit_price, decimal.Decimal) and first.unit_price == decimal.Decimal("0.99")
    acdc = Artist.get(Artist.name == "AC/DC")
    assert sorted(album.title for album in acdc.album_set) == sorted(
        row[0] for row in sql("SELECT {Title} FROM {Album} WHERE {ArtistId} = " + str(acdc.artist_id))
    )

    # Nullable foreign keys, a self-reference and its backref.
    loose = Track.select().where(Track.album.is_null()).order_by(Track.track_id)
    assert [t.track_id for t in loose] == [
        row[0] for row in sql("SELECT {TrackId} FROM {Track} WHERE {AlbumId} IS NULL ORDER BY {TrackId}")
    ]
    top = Employee.get(Employee.reports_to.is_null())
    assert top.reports_to is None
    assert sorted(e.first_name for e in top.employee_set) == sorted(
        row[0] for row in sql("SELECT {FirstName} FROM {Employee} WHERE {ReportsTo} = " + str(top.employee_id))
    )
    for employee in Employee.select().where(Employee.reports_to.is_null(False)):
        (expected,) = sql(
            "SELECT m.{FirstName} FROM {Employee} e JOIN {Employee} m ON m.{EmployeeId} = e.{ReportsTo} "
            "WHERE e.{EmployeeId} = " + str(employee.employee_id)
        )[0]
        assert employee.reports_to.first_name == expected
    assert (
        Customer.select().filter(support_rep__last_name="Peacock").count()
        == sql(
            "SELECT COUNT(*) FROM {Customer} c JOIN {Employee} e ON e.{EmployeeId} = c.{SupportRepId} "
            "WHERE e.{LastName} = 'Peacock'"
        )[0][0]
    )

    # Money: exact decimals row by row, and aggregates.
    for invoice in Invoice.select():
        (raw_total,) = sql("SELECT {Total} FROM {Invoice} WHERE {InvoiceId} = " + str(invoice.invoice_id))[0]
        assert isinstance(invoice.total, decimal.Decimal) and invoice.total == _money(raw_total)
        assert isinstance(invoice.invoice_date, datetime.datetime)
    revenue = (
        Genre.select(Genre.name, fn.SUM(InvoiceLine.unit_price * InvoiceLine.quantity).alias("revenue"))
        .join(Track)
        .join(InvoiceLine)
        .group_by(Genre.name)
        .order_by(Genre.name)
        .tuples()
    )
    assert [(name, _money(total)) for name, total in revenue] == [
        (name, _money(total))
        for name, total in sql(
            "SELECT g.{Name}, SUM(l.{UnitPrice} * l.{Quantity}) FROM {Genre} g JOIN {Track} t ON t.{GenreId} = g.{GenreId} "
            "JOIN {InvoiceLine} l ON l.{TrackId} = t.{TrackId} GROUP BY g.{Name} ORDER BY g.{Name}"
        )
    ]
    per_customer = {c.customer_id: sum((i.total for i in c.invoice_set), decimal.Decimal(0)) for c in Customer.select()}
    for customer_id, total in sql(
        "SELECT c.{CustomerId}, COALESCE(SUM(i.{Total}), 0) FROM {Customer} c "
        "LEFT JOIN {Invoice} i ON i.{CustomerId} = c.{CustomerId} GROUP BY c.{CustomerId}"
    ):
        assert per_customer[customer_id] == _money(total)

    # Composite primary key.
    playlist = Playlist.get(Playlist.playlist_id == 1)
    tracks = sorted(link.track.name for link in PlaylistTrack.select().where(PlaylistTrack.playlist == playlist))
    assert tracks == sorted(
        row[0]
        for row in sql(
            "SELECT t.{Name} FROM {PlaylistTrack} p JOIN {Track} t ON t.{TrackId} = p.{TrackId} WHERE p.{PlaylistId} = 1"
        )
    )
    (some_playlist, some_track) = sql("SELECT {PlaylistId}, {TrackId} FROM {PlaylistTrack} ORDER BY {TrackId} DESC")[0]
    link = PlaylistTrack.get((PlaylistTrack.playlist == some_playlist) & (PlaylistTrack.track == some_track))
    assert link.track.track_id == some_track

    # Text comes back as stored, accents and all.
    names = sorted(c.first_name + " " + c.last_name for c in Customer.select())
    assert names == sorted(f"{first} {last}" for first, last in sql("SELECT {FirstName}, {LastName} FROM {Customer}"))


def quoted_sql(run, quote):
    """``sql(text)`` for check_chinook_models: quotes ``{Name}`` identifiers, then runs."""

    def sql(text):
        return [tuple(row) for row in run(re.sub(r"\{(\w+)\}", lambda match: quote(match.group(1)), text))]

    return sql


def test_introspect_chinook_like_database(db, project):
    build_chinook_like(db)
    source = introspect(project.url, project.path)
    assert "column_name='ArtistId'" in source  # CamelCase columns keep their names
    module = load_module(source, project.path, "chinook_models")

    check_chinook_models(module, quoted_sql(lambda text: db.execute_sql(text).fetchall(), db.dialect.quote))


@pytest.mark.skipif(not CHINOOK.exists(), reason=f"optional: the Chinook sample database is not at {CHINOOK}")
def test_optional_real_chinook_sample_database(tmp_path):
    """OPTIONAL (skips without the file): the real Chinook SQLite sample, introspected and queried."""
    import sqlite3

    path = tmp_path / "Chinook_Sqlite.sqlite"
    shutil.copyfile(CHINOOK, path)
    url = f"sqlite:///{path}"
    source = introspect(url, tmp_path)
    module = load_module(source, tmp_path, "chinook_models")
    connection = sqlite3.connect(str(path))
    try:
        sql = quoted_sql(lambda text: connection.execute(text).fetchall(), lambda name: f'"{name}"')

        check_chinook_models(module, sql)
        models = by_table(module)
        Artist, Album, Track, Genre = models["Artist"], models["Album"], models["Track"], models["Genre"]
        InvoiceLine, Customer, Employee = models["InvoiceLine"], models["Customer"], models["Employee"]
        assert Artist.select().count() == 275 and Track.select().count() == 3503
        # The five best-selling genres.
        revenue = fn.SUM(InvoiceLine.unit_price * InvoiceLine.quantity)
        top = (
            Genre.select(Genre.name, revenue.alias("revenue"))
            .join(Track)
            .join(InvoiceLine)
            .group_by(Genre.name)
            .order_by(revenue.desc())
            .limit(5)
            .tuples()
        )
        assert [(name, _money(total)) for name, total in top] == [
            (name, _money(total))
            for name, total in sql(
                "SELECT g.{Name}, SUM(l.{UnitPrice} * l.{Quantity}) AS r FROM {Genre} g JOIN {Track} t "
                "ON t.{GenreId} = g.{GenreId} JOIN {InvoiceLine} l ON l.{TrackId} = t.{TrackId} "
                "GROUP BY g.{Name} ORDER BY r DESC LIMIT 5"
            )
        ]
        # Customers per support representative.
        reps = (
            Employee.select(Employee.last_name, fn.COUNT(Customer.customer_id).alias("n"))
            .join(Customer, on=(Customer.support_rep == Employee.employee_id))
            .group_by(Employee.last_name)
            .order_by(Employee.last_name)
            .tuples()
        )
        assert list(reps) == sql(
            "SELECT e.{LastName}, COUNT(c.{CustomerId}) FROM {Employee} e JOIN {Customer} c "
            "ON c.{SupportRepId} = e.{EmployeeId} GROUP BY e.{LastName} ORDER BY e.{LastName}"
        )
        acdc = Artist.get(Artist.name == "AC/DC")
        assert sorted(album.title for album in acdc.album_set) == [
            "For Those About To Rock We Salute You",
            "Let There Be Rock",
        ]
        assert Album.select().filter(artist__name="Aerosmith").count() == 1
    finally:
        connection.close()


def test_each_engine_reads_back_its_own_type_spellings():
    """The type spellings live on each engine's dialect; no server needed to check them."""
    from tinyorm.dialects import MySQLDialect, PostgresDialect, SqliteDialect
    from tinyorm.migrations.introspect import canonical_type

    sqlite, postgresql, mysql = SqliteDialect(), PostgresDialect(), MySQLDialect()
    assert canonical_type(postgresql, "character varying(50)") == canonical_type(mysql, "VARCHAR(50)") == "varchar(50)"
    assert canonical_type(postgresql, "timestamp(6) without time zone") == "timestamp"
    assert canonical_type(postgresql, "int4") == canonical_type(mysql, "int(11)") == "integer"
    assert canonical_type(mysql, "tinyint(1)") == canonical_type(postgresql, "bool") == "boolean"
    assert canonical_type(sqlite, "DECIMAL_TEXT(10, 2)") == canonical_type(postgresql, "numeric(10,2)")
    # SQLite keeps a table's declared types, whichever engine they were written for.
    assert canonical_type(sqlite, "NVARCHAR(160)") == "varchar(160)"
    assert canonical_type(sqlite, "character varying(5)") == "varchar(5)"
    assert postgresql.is_auto_increment_default("nextval('item_id_seq'::regclass)")
    assert mysql.is_auto_increment_default("AUTO_INCREMENT") and not sqlite.is_auto_increment_default("0")
    assert sqlite.is_implicit_index("sqlite_autoindex_item_1") and not postgresql.is_implicit_index("item_pkey")
