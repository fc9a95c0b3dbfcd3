"""Schema: create/drop in foreign-key order, indexes, foreign-key actions, composite and
self-referential keys, and introspection that answers the same on every engine."""

import pytest

import tinyorm
from tinyorm import (
    CharField,
    ColumnMetadata,
    CompositeKey,
    ForeignKeyField,
    ForeignKeyMetadata,
    IndexMetadata,
    IntegerField,
    Model,
    TextField,
)


def make_models(db):
    class Base(Model):
        class Meta:
            database = db

    class Author(Base):
        name = CharField(max_length=50, unique=True)
        email = CharField(null=True, index=True)

    class Book(Base):
        author = ForeignKeyField(Author, backref="books", on_delete="CASCADE")
        title = CharField(max_length=100)
        isbn = CharField(max_length=20, unique=True, null=True)

        class Meta:
            indexes = ((("author", "title"), True), (("title", "isbn"), False))

    class Review(Base):
        book = ForeignKeyField(Book, backref="reviews", null=True, on_delete="SET NULL")
        editor = ForeignKeyField(Author, backref="edited", null=True)
        body = TextField()

    return Author, Book, Review


def table_positions(statements, prefix):
    """Order in which tables appear in statements starting with ``prefix``."""
    order = []
    for sql, _params in statements:
        text = sql.strip()
        if text.upper().startswith(prefix):
            for name in ("review", "book", "author"):
                if any(f"{q}{name}{q}" in text.split("(")[0] for q in '"`'):
                    order.append(name)
    return order


# -- create / drop ----------------------------------------------------------------------------
def test_create_tables_in_foreign_key_order(db, count_queries):
    Author, Book, Review = make_models(db)
    with count_queries(db) as counter:
        db.create_tables([Review, Book, Author])
    assert table_positions(counter.statements, "CREATE TABLE") == ["author", "book", "review"]
    assert db.get_tables() == ["author", "book", "review"]
    # the constraints exist: a dangling reference is refused
    with pytest.raises(tinyorm.IntegrityError):
        Book.create(author=999, title="t")


def test_drop_tables_in_reverse_order(db, count_queries):
    Author, Book, Review = make_models(db)
    db.create_tables([Author, Book, Review])
    author = Author.create(name="a")
    book = Book.create(author=author, title="t")
    Review.create(book=book, editor=author, body="b")
    with count_queries(db) as counter:
        db.drop_tables([Author, Book, Review])
    assert table_positions(counter.statements, "DROP TABLE") == ["review", "book", "author"]
    assert db.get_tables() == []


def test_create_tables_safe_twice_is_harmless(db):
    Author, Book, Review = make_models(db)
    db.create_tables([Author, Book, Review])
    Author.create(name="kept")
    indexes_before = {t: db.get_indexes(t) for t in ("author", "book", "review")}
    db.create_tables([Author, Book, Review], safe=True)
    db.create_tables([Author, Book, Review])
    assert [a.name for a in Author.select()] == ["kept"]
    assert {t: db.get_indexes(t) for t in ("author", "book", "review")} == indexes_before


def test_create_tables_unsafe_on_existing_table_raises(db):
    Author, Book, Review = make_models(db)
    db.create_tables([Author])
    Author.create(name="kept")
    with pytest.raises(tinyorm.DatabaseError):
        db.create_tables([Author], safe=False)
    assert [a.name for a in Author.select()] == ["kept"]


def test_drop_tables_safe_on_missing_tables(db):
    Author, Book, Review = make_models(db)
    db.drop_tables([Author, Book, Review], safe=True)
    with pytest.raises(tinyorm.DatabaseError):
        db.drop_tables([Author], safe=False)


def test_model_table_helpers(db):
    Author, Book, Review = make_models(db)
    assert not Author.table_exists()
    Author.create_table()
    assert Author.table_exists()
    Author.drop_table()
    assert not Author.table_exists()


# -- introspection ----------------------------------------------------------------------------
def test_get_tables(db):
    Author, Book, Review = make_models(db)
    assert db.get_tables() == []
    db.create_tables([Book, Author, Review])
    assert db.get_tables() == ["author", "book", "review"]
    assert db.table_exists("book")
    assert not db.table_exists("nope")


def test_get_columns(db):
    Author, Book, Review = make_models(db)
    db.create_tables([Author, Book, Review])
    columns = db.get_columns("book")
    assert all(isinstance(c, ColumnMetadata) for c in columns)
    assert all(isinstance(c.data_type, str) and c.data_type for c in columns)
    assert [(c.name, c.null, c.primary_key, c.table) for c in columns] == [
        ("id", False, True, "book"),
        ("author_id", False, False, "book"),
        ("title", False, False, "book"),
        ("isbn", True, False, "book"),
    ]
    assert [(c.name, c.null, c.primary_key) for c in db.get_columns("review")] == [
        ("id", False, True),
        ("book_id", True, False),
        ("editor_id", True, False),
        ("body", False, False),
    ]
    assert db.get_primary_keys("author") == ["id"]


def test_get_indexes(db):
    Author, Book, Review = make_models(db)
    db.create_tables([Author, Book, Review])
    indexes = db.get_indexes("book")
    assert all(isinstance(i, IndexMetadata) for i in indexes)
    shape = sorted((tuple(i.columns), bool(i.unique), i.table) for i in indexes)
    assert shape == [
        (("author_id",), False, "book"),
        (("author_id", "title"), True, "book"),
        (("isbn",), True, "book"),
        (("title", "isbn"), False, "book"),
    ]
    assert sorted(i.name for i in indexes) == [
        "book_author_id",
        "book_author_id_title",
        "book_isbn",
        "book_title_isbn",
    ]
    author_shape = sorted((tuple(i.columns), i.unique) for i in db.get_indexes("author"))
    assert author_shape == [(("email",), False), (("name",), True)]


def test_indexes_are_enforced(db):
    Author, Book, Review = make_models(db)
    db.create_tables([Author, Book, Review])
    author = Author.create(name="a")
    Book.create(author=author, title="t", isbn="1")
    with pytest.raises(tinyorm.IntegrityError):
        Book.create(author=author, title="t", isbn="2")  # composite unique (author, title)
    with pytest.raises(tinyorm.IntegrityError):
        Book.create(author=author, title="u", isbn="1")  # unique isbn
    Book.create(author=author, title="v", isbn=None)
    Book.create(author=author, title="w", isbn=None)  # NULLs do not collide
    assert Book.select().count() == 3


def test_unique_violation_is_integrity_error(db):
    Author, Book, Review = make_models(db)
    db.create_tables([Author])
    Author.create(name="a")
    with pytest.raises(tinyorm.IntegrityError) as info:
        Author.create(name="a")
    assert isinstance(info.value, tinyorm.DatabaseError)
    assert info.value.__cause__ is not None
    assert Author.select().count() == 1


def test_get_foreign_keys(db):
    Author, Book, Review = make_models(db)
    db.create_tables([Author, Book, Review])
    fks = db.get_foreign_keys("book")
    assert all(isinstance(fk, ForeignKeyMetadata) for fk in fks)
    assert [(fk.column, fk.dest_table, fk.dest_column, fk.table, fk.on_delete) for fk in fks] == [
        ("author_id", "author", "id", "book", "CASCADE")
    ]
    review = sorted((fk.column, fk.dest_table, fk.dest_column, fk.on_delete) for fk in db.get_foreign_keys("review"))
    assert review[0] == ("book_id", "book", "id", "SET NULL")
    assert review[1][:3] == ("editor_id", "author", "id")
    assert db.get_foreign_keys("author") == []


def test_undeclared_fk_action_reported_alike(db):
    """No on_delete declared: every engine reports the SQL default, NO ACTION."""
    Author, Book, Review = make_models(db)
    db.create_tables([Author, Book, Review])
    editor = [fk for fk in db.get_foreign_keys("review") if fk.column == "editor_id"][0]
    assert (editor.on_delete, editor.on_update) == ("NO ACTION", "NO ACTION")


# -- foreign-key actions ----------------------------------------------------------------------
def test_on_delete_cascade_and_set_null(db):
    Author, Book, Review = make_models(db)
    db.create_tables([Author, Book, Review])
    doomed = Author.create(name="doomed")
    kept = Author.create(name="kept")
    book = Book.create(author=doomed, title="t")
    other = Book.create(author=kept, title="u")
    review = Review.create(book=book, body="r")
    other_review = Review.create(book=other, body="s")
    assert Author.delete().where(Author.id == doomed.id).execute() == 1
    assert [b.id for b in Book.select()] == [other.id]  # CASCADE
    assert Review.get_by_id(review.id).book_id is None  # SET NULL
    assert Review.get_by_id(other_review.id).book_id == other.id


def test_delete_instance_cascades_in_database(db):
    Author, Book, Review = make_models(db)
    db.create_tables([Author, Book, Review])
    author = Author.create(name="a")
    Book.create(author=author, title="t")
    author.delete_instance()
    assert Book.select().count() == 0


def test_restrict_by_default(db):
    Author, Book, Review = make_models(db)
    db.create_tables([Author, Book, Review])
    editor = Author.create(name="editor")
    Review.create(editor=editor, body="b")
    with pytest.raises(tinyorm.IntegrityError):
        Author.delete().where(Author.id == editor.id).execute()
    assert Author.select().count() == 1


# -- text indexes, composite and self-referential keys ----------------------------------------
def test_text_field_index_works_on_every_engine(db):
    """The API.md example: a composite index over a TextField (prefix length on MySQL)."""

    class Base(Model):
        class Meta:
            database = db

    class User(Base):
        username = CharField(max_length=50, unique=True)

    class Tweet(Base):
        user = ForeignKeyField(User, backref="tweets", on_delete="CASCADE")
        content = TextField()
        tag = TextField(index=True, null=True)

        class Meta:
            table_name = "tweets"
            indexes = ((("user", "content"), False),)

    db.create_tables([User, Tweet])
    shape = sorted((tuple(i.columns), i.unique) for i in db.get_indexes("tweets"))
    assert shape == [(("tag",), False), (("user_id",), False), (("user_id", "content"), False)]
    user = User.create(username="u")
    long_text = "x" * 5000 + "\U0001f600"
    Tweet.create(user=user, content=long_text, tag="t" * 1000)
    assert Tweet.get(Tweet.content == long_text).tag == "t" * 1000


def test_composite_primary_key(db):
    Author, Book, Review = make_models(db)

    class Membership(Model):
        author = ForeignKeyField(Author, backref="memberships")
        group = CharField(max_length=20)
        role = CharField(max_length=20, default="member")

        class Meta:
            database = db
            primary_key = CompositeKey("author", "group")

    db.create_tables([Membership, Author])
    columns = [(c.name, c.primary_key) for c in db.get_columns("membership")]
    assert columns == [("author_id", True), ("group", True), ("role", False)]
    assert "id" not in [c.name for c in db.get_columns("membership")]
    a = Author.create(name="a")
    m = Membership.create(author=a, group="admins")
    Membership.create(author=a, group="users", role="owner")
    assert m.pk == (a.id, "admins")
    with pytest.raises(tinyorm.IntegrityError):
        Membership.create(author=a, group="admins")
    fetched = Membership.get_by_id((a.id, "users"))
    assert fetched.role == "owner"
    fetched.role = "guest"
    fetched.save()
    assert Membership.get_by_id((a.id, "users")).role == "guest"
    assert Membership.get_by_id((a.id, "admins")).role == "member"  # only that row changed
    fetched.delete_instance()
    assert [x.group for x in Membership.select()] == ["admins"]
    with pytest.raises(Membership.DoesNotExist):
        Membership.get_by_id((a.id, "users"))


def test_self_referential_foreign_key(db):
    class Category(Model):
        name = CharField(max_length=20)
        parent = ForeignKeyField("self", null=True, backref="children", on_delete="CASCADE")

        class Meta:
            database = db

    db.create_tables([Category])
    fks = db.get_foreign_keys("category")
    assert [(fk.column, fk.dest_table, fk.dest_column, fk.on_delete) for fk in fks] == [
        ("parent_id", "category", "id", "CASCADE")
    ]
    root = Category.create(name="root")
    child = Category.create(name="child", parent=root)
    Category.create(name="grandchild", parent=child)
    assert Category.get_by_id(child.id).parent.name == "root"
    assert Category.get_by_id(root.id).parent is None
    assert [c.name for c in root.children] == ["child"]
    root.delete_instance()
    assert Category.select().count() == 0  # cascades down two levels


# -- Meta options -------------------------------------------------------------------------------
def test_unknown_meta_option_is_refused_naming_it_and_the_valid_ones():
    with pytest.raises(tinyorm.ImproperlyConfigured) as raised:

        class Invoice(Model):
            number = IntegerField()

            class Meta:
                tablename = "invoices"

    message = str(raised.value)
    assert "Invoice.Meta" in message and "'tablename'" in message
    assert "did you mean 'table_name'?" in message
    for option in ("database", "table_name", "indexes", "primary_key", "partition", "constraints"):
        assert option in message


def test_unknown_meta_option_without_a_close_match_lists_the_options():
    with pytest.raises(tinyorm.ImproperlyConfigured, match="'frobnicate'; the options are: constraints, "):

        class Gadget(Model):
            class Meta:
                frobnicate = True


def test_every_documented_meta_option_is_accepted(db):
    class Ledger(Model):
        low = IntegerField()
        high = IntegerField()
        note = CharField(max_length=20)

        class Meta:
            database = db
            table_name = "ledger_entries"
            indexes = ((("note",), False),)
            primary_key = CompositeKey("low", "high")
            partition = None
            constraints = [tinyorm.SQL("CHECK (low <= high)")]

    db.create_tables([Ledger])
    Ledger.create(low=1, high=2, note="kept")
    assert Ledger.get_by_id((1, 2)).note == "kept"
    assert "ledger_entries" in db.get_tables()
    with pytest.raises(tinyorm.DatabaseError):  # MySQL reports a failed CHECK as a DataError
        Ledger.create(low=3, high=2, note="refused by the CHECK")
