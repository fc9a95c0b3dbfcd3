"""JSON paths on every engine: reads, typed comparisons, has_key, containment, ordering,
with keys chosen to break naive path building (quotes, backslashes, dots, brackets, SQL)."""

import pytest

from tinyorm import DataError, JSONField, Model, TextField

HOSTILE_KEYS = [
    'a"b',
    "back\\slash",
    "dot.ted",
    "[0]",
    "$",
    "it's",
    "'); DROP TABLE doc; --",
    "",
    "ünï cødé",
    "%s %(x)s ?",
]


class Doc(Model):
    title = TextField()
    data = JSONField(null=True)


@pytest.fixture
def docs(db):
    Doc.bind(db)
    db.create_tables([Doc])
    rows = {
        "alice": {
            "user": {"name": "alice", "age": 30, "admin": True, "tags": ["python", "orm"]},
            "score": 9.5,
            "nothing": None,
            "hostile": {key: f"value of {key}" for key in HOSTILE_KEYS},
        },
        "bob": {"user": {"name": "bob", "age": "30", "admin": False, "tags": []}, "score": 7, "list": [1, {"x": 2}]},
        "carol": {"user": {"name": "Carol", "age": 41}, "score": "high"},
        "empty": None,
    }
    for title, data in rows.items():
        Doc.create(title=title, data=data)
    return db


def titles(query):
    return sorted(doc.title for doc in query)


def test_paths_read_json_values_and_text(docs):
    rows = Doc.select(Doc.title, Doc.data["user"]["tags"], Doc.data["user"]["name"].as_text()).order_by(Doc.title)
    assert [(r.title, r.data_user_tags, r.data_user_name) for r in rows.objects()] == [
        ("alice", ["python", "orm"], "alice"),
        ("bob", [], "bob"),
        ("carol", None, "Carol"),
        ("empty", None, None),
    ]
    values = Doc.select(Doc.data["user"]["admin"], Doc.data["nothing"], Doc.data["list"][1]).order_by(Doc.title)
    assert values.tuples()[:2] == [(True, None, None), (False, None, {"x": 2})]


def test_typed_comparisons(docs):
    assert titles(Doc.select().where(Doc.data["user"]["name"] == "alice")) == ["alice"]
    assert titles(Doc.select().where(Doc.data["user"]["name"] == "ALICE")) == []  # case-sensitive
    assert titles(Doc.select().where(Doc.data["user"]["age"] == 30)) == ["alice"]  # not the string "30"
    assert titles(Doc.select().where(Doc.data["user"]["age"] == "30")) == ["bob"]
    assert titles(Doc.select().where(Doc.data["user"]["age"] > 29)) == ["alice", "carol"]
    assert titles(Doc.select().where(Doc.data["score"] >= 7)) == ["alice", "bob"]  # "high" never casts
    assert titles(Doc.select().where(Doc.data["user"]["admin"] == True)) == ["alice"]  # noqa: E712
    assert titles(Doc.select().where(Doc.data["user"]["admin"] == False)) == ["bob"]  # noqa: E712
    null_or_missing = Doc.data["nothing"] == None  # noqa: E711
    assert titles(Doc.select().where(null_or_missing)) == ["alice", "bob", "carol", "empty"]
    assert titles(Doc.select().where(Doc.data["user"]["name"] != "alice")) == ["bob", "carol", "empty"]
    assert titles(Doc.select().where(Doc.data["user"]["age"].in_([30, "30"]))) == ["alice", "bob"]
    assert titles(Doc.select().where(Doc.data["user"]["age"].in_([]))) == []


def test_typed_casts_order_and_filter(docs):
    by_age = Doc.select().where(Doc.data["user"]["name"].as_text().is_null(False)).order_by(Doc.data["score"].as_text())
    assert len(list(by_age)) == 3
    adults = Doc.select().where(Doc.data["user"]["age"].as_integer() > 35)
    assert titles(adults) == ["carol"]


@pytest.mark.parametrize("key", HOSTILE_KEYS)
def test_hostile_keys_are_addressed_exactly(docs, key):
    path = Doc.data["hostile"][key]
    assert titles(Doc.select().where(path == f"value of {key}")) == ["alice"]
    assert titles(Doc.select().where(Doc.data["hostile"].has_key(key))) == ["alice"]
    assert titles(Doc.select().where(Doc.data.contains({"hostile": {key: f"value of {key}"}}))) == ["alice"]
    assert Doc.select(path).where(Doc.title == "alice").scalar() == f"value of {key}"
    assert Doc.select(path.as_text()).where(Doc.title == "alice").scalar() == f"value of {key}"
    assert Doc.select().count() == 4  # the table is still there


def test_has_key_and_containment(docs):
    assert titles(Doc.select().where(Doc.data.has_key("list"))) == ["bob"]
    assert titles(Doc.select().where(Doc.data.has_key("nothing"))) == ["alice"]  # a null value is present
    assert titles(Doc.select().where(Doc.data["list"].has_key(1))) == ["bob"]
    assert titles(Doc.select().where(Doc.data["user"]["tags"].contains("python"))) == ["alice"]
    assert titles(Doc.select().where(Doc.data["user"]["tags"].contains("py"))) == []  # no substring match
    assert titles(Doc.select().where(Doc.data.contains({"user": {"age": 30}}))) == ["alice"]
    assert titles(Doc.select().where(Doc.data.contains({"list": [{"x": 2}]}))) == ["bob"]
    assert titles(Doc.select().where(Doc.data.contains({"user": {"tags": []}}))) == ["alice", "bob"]


def test_bad_paths_and_values_are_refused_before_sql(docs):
    with pytest.raises(TypeError):
        Doc.data[1.5]
    with pytest.raises(ValueError):
        Doc.data[-1]
    with pytest.raises(TypeError):
        _ = Doc.data["user"] < True
    with pytest.raises(TypeError):
        _ = Doc.data["user"] == {"a": 1}
    with pytest.raises(DataError):
        Doc.data.contains({"a": object()})


def test_paths_in_updates(docs):
    updated = Doc.update(title="senior").where(Doc.data["user"]["age"] > 40).execute()
    assert updated == 1
    assert titles(Doc.select().where(Doc.title == "senior")) == ["senior"]
