"""Full-text search on every engine: created by create_tables and by migrations, kept in
sync with writes, ranked, and safe with whatever a user types."""

import textwrap

import pytest

from tinyorm import CharField, ImproperlyConfigured, IntegerField, Model, Search, TextField
from tinyorm.migrations import MigrationRunner
from tinyorm.migrations.autogenerate import plan_changes
from tinyorm.sql.search import search_terms

HOSTILE_SEARCHES = [
    "user's words",
    '"unbalanced quote',
    "NOT python",
    "python OR rust",
    "-python",
    "+python +",
    "python*",
    "title:python",
    "NEAR(python orm)",
    "(python",
    "python)",
    "'); DROP TABLE entry; --",
    "%s %(x)s ?",
    "\\",
    "@@ <-> & | !",
    "🐍 python",
]


class Entry(Model):
    title = CharField(max_length=200)
    body = TextField(null=True)
    views = IntegerField(default=0)

    class Meta:
        search = ("title", "body")


ROWS = [
    ("Python tips", "Write readable python code; python is fun"),
    ("The user's words", "A user wrote these words about an ORM"),
    ("Rust notes", "Ownership and borrowing, no python here... well, one python"),
    ("Empty body", None),
]


@pytest.fixture
def entries(db):
    Entry.bind(db)
    db.create_tables([Entry])
    for title, body in ROWS:
        Entry.create(title=title, body=body)
    return db


def titles(query):
    return sorted(entry.title for entry in query)


def test_match_finds_rows_with_every_word(entries):
    assert titles(Entry.select().where(Entry.match("python"))) == ["Python tips", "Rust notes"]
    assert titles(Entry.select().where(Entry.match("PYTHON code"))) == ["Python tips"]
    assert titles(Entry.select().where(Entry.match("user's words"))) == ["The user's words"]
    assert titles(Entry.select().where(Entry.match("python ownership"))) == ["Rust notes"]
    assert titles(Entry.select().where(Entry.match("borrowing elephant"))) == []
    assert titles(Entry.select().where(Entry.match(""))) == []


def test_rank_orders_the_better_match_first(entries):
    ranked = list(Entry.search("python"))
    assert sorted(entry.title for entry in ranked) == ["Python tips", "Rust notes"]
    assert ranked[0].rank >= ranked[1].rank
    best = Entry.select(Entry.title).where(Entry.match("python")).order_by(Entry.search_rank("readable python").desc())
    assert [entry.title for entry in best][0] == "Python tips"


def test_search_index_follows_inserts_updates_and_deletes(entries):
    entry = Entry.get(Entry.title == "Empty body")
    entry.body = "now about elephants"
    entry.save()
    assert titles(Entry.select().where(Entry.match("elephants"))) == ["Empty body"]
    entry.body = "about giraffes instead"
    entry.save()
    assert titles(Entry.select().where(Entry.match("elephants"))) == []
    Entry.create(title="Elephant facts", body="elephants never forget")
    assert titles(Entry.select().where(Entry.match("elephants"))) == ["Elephant facts"]
    Entry.delete().where(Entry.title == "Elephant facts").execute()
    assert titles(Entry.select().where(Entry.match("elephants"))) == []
    Entry.update(views=5).where(Entry.title == "Python tips").execute()
    assert titles(Entry.select().where(Entry.match("readable"))) == ["Python tips"]


@pytest.mark.parametrize("text", HOSTILE_SEARCHES)
def test_hostile_search_text_never_errors_nor_changes_meaning(entries, text):
    matched = titles(Entry.select().where(Entry.match(text)))
    # Engines leave their stop words ("not", "or", ...) and very short words out of a search.
    words = [word for word in search_terms(text) if len(word) > 2 and word not in ("not", "and")]
    # Every row found contains every word; operators in the text were just separators.
    for title in matched:
        row = Entry.get(Entry.title == title)
        document = f"{row.title} {row.body or ''}".lower()
        assert all(word in document for word in words), (text, title)
    if search_terms(text) == ["python"]:
        assert matched == ["Python tips", "Rust notes"]  # NOT, -, *, : did not change the question
    list(Entry.search(text))  # ranking the same text is as safe
    assert Entry.select().count() == len(ROWS)


def test_search_terms_keep_only_words():
    assert search_terms('NOT python -rust "a b" c*') == ["not", "python", "rust", "a", "b", "c"]
    assert search_terms("user's words, user's!") == ["user", "s", "words"]
    assert len(search_terms(" ".join(f"w{n}" for n in range(100)))) == 32
    with pytest.raises(TypeError):
        search_terms(None)


def test_an_unsearchable_model_says_so(db):
    class Plain(Model):
        name = CharField()

    with pytest.raises(ImproperlyConfigured, match="not searchable"):
        Plain.match("x")
    with pytest.raises(ImproperlyConfigured, match="not a text field"):

        class Wrong(Model):
            count = IntegerField()

            class Meta:
                search = Search("count")


def test_create_tables_twice_and_drop(entries):
    entries.create_tables([Entry])  # safe: the search index is not made again
    assert titles(Entry.select().where(Entry.match("python"))) == ["Python tips", "Rust notes"]
    entries.drop_tables([Entry])
    assert "entry" not in entries.get_tables()
    entries.create_tables([Entry])
    assert Entry.select().where(Entry.match("python")).count() == 0


def test_migrations_add_search_to_a_table_with_rows(db, tmp_path):
    class Article(Model):
        headline = CharField(max_length=200)

    Article.bind(db)
    db.create_tables([Article])
    Article.create(headline="Python in production")
    Article.create(headline="Gardening")

    class Article(Model):  # noqa: F811 - the same table, now searchable
        headline = CharField(max_length=200)

        class Meta:
            search = ("headline",)

    Article.bind(db)
    changes = plan_changes(db, [Article])
    assert [change.upgrade for change in changes] == [
        "op.create_search('article', ['headline'], name='article_search', language='english')"
    ]
    (tmp_path / "migrations").mkdir()
    (tmp_path / "migrations" / "0001_search.py").write_text(
        textwrap.dedent(
            f"""
            def upgrade(op):
                {changes[0].upgrade}

            def downgrade(op):
                {changes[0].downgrade}
            """
        ),
        encoding="utf-8",
    )
    runner = MigrationRunner(db, str(tmp_path / "migrations"), out=lambda line: None)
    runner.up()
    assert [a.headline for a in Article.select().where(Article.match("python"))] == ["Python in production"]
    assert plan_changes(db, [Article]) == []  # nothing left to do
    runner.down()
    assert not db.has_search(Article._meta.search)
