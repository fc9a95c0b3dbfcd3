"""examples/flask_app.py driven with Flask's test client on every engine: its flows, the
statements each request sends (no N+1), and optimistic-locking edits that answer 409."""

import importlib.util
import pathlib

import pytest

flask = pytest.importorskip("flask", reason="the flask extra is not installed")

EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "examples" / "flask_app.py"


def _load_example():
    spec = importlib.util.spec_from_file_location("tinyorm_example_flask_app", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


example = _load_example()


@pytest.fixture
def client(db):
    app = example.create_app(database=db)
    app.config["TESTING"] = True
    client = app.test_client()
    for name in ("alice", "bob", "carol", "dave"):
        assert client.post("/users", json={"username": name}).status_code == 201
    for other in ("bob", "carol"):
        assert client.post(f"/users/alice/follow/{other}").status_code == 201
    return client


def post(client, user, content, **data):
    response = client.post("/messages", json={"user": user, "content": content, "data": data})
    assert response.status_code == 201, response.json
    return response.json


def test_timeline_joins_and_paginates(client):
    for number in range(25):
        post(client, "bob" if number % 2 else "carol", f"message {number}")
    post(client, "dave", "not followed")
    first = client.get("/users/alice/timeline").json
    assert first["pages"] == 2 and len(first["items"]) == 20
    assert first["items"][0]["content"] == "message 24" and first["items"][0]["user"] == "carol"
    second = client.get("/users/alice/timeline?page=2").json
    assert [item["content"] for item in second["items"]] == [f"message {n}" for n in range(4, -1, -1)]
    assert client.get("/users/nobody/timeline").status_code == 404
    assert client.get("/users/alice/following").json == {"following": ["bob", "carol"]}


def test_statements_per_request_do_not_grow_with_rows(client, db, count_queries):
    def timeline_statements():
        with count_queries(db) as counter:
            assert client.get("/users/alice/timeline").status_code == 200
        return counter.count

    post(client, "bob", "one")
    few = timeline_statements()
    for number in range(30):
        post(client, "carol", f"more {number}")
    assert timeline_statements() == few <= 3  # the user, the COUNT, the page
    with count_queries(db) as counter:
        users = client.get("/users").json["items"]
    assert {user["username"]: user["messages"] for user in users}["carol"] == 30
    assert counter.count == 2  # COUNT and one grouped page, whatever the number of users
    with count_queries(db) as counter:
        post(client, "dave", "hello")
    selects = [sql for sql, _params in counter.statements if sql.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 1  # the author; the INSERT's key comes back without another query


def test_json_data_and_search(client):
    post(client, "bob", "Python tips", tags=["python", "tips"], mood="happy")
    post(client, "carol", "Go notes", tags=["go"], mood="grumpy")
    post(client, "carol", "It's 100% done; DROP TABLE message; --", tags=["python"], mood="happy")
    tagged = client.get("/messages?tag=python").json["items"]
    assert [item["content"] for item in tagged] == ["Python tips", "It's 100% done; DROP TABLE message; --"]
    assert [item["user"] for item in client.get("/messages?mood=grumpy").json["items"]] == ["carol"]
    assert [item["content"] for item in client.get("/search?q=tips").json["items"]] == ["Python tips"]
    hostile = client.get("/search", query_string={"q": "100% done; DROP"}).json["items"]
    assert len(hostile) == 1
    assert client.get("/messages?tag=nothing").json["items"] == []


def test_edits_check_the_version_and_answer_409(client):
    message = post(client, "bob", "first draft")
    shown = client.get(f"/messages/{message['id']}")
    assert shown.headers["ETag"] == message["etag"]
    edited = client.patch(
        f"/messages/{message['id']}", json={"content": "second draft"}, headers={"If-Match": message["etag"]}
    )
    assert edited.status_code == 200 and edited.json["version"] == message["version"] + 1
    stale = client.patch(f"/messages/{message['id']}", json={"content": "lost"}, headers={"If-Match": message["etag"]})
    assert stale.status_code == 409 and stale.json["error"] == "conflict"
    assert client.get(f"/messages/{message['id']}").json["content"] == "second draft"
    by_body = client.patch(f"/messages/{message['id']}", json={"content": "third", "version": edited.json["version"]})
    assert by_body.status_code == 200


def test_a_concurrent_edit_found_at_commit_is_a_409_not_a_500(db):
    app = example.create_app(database=db)

    @app.patch("/race/<int:message_id>")
    def race(message_id):
        from playhouse.sessions import current_session

        session = current_session()
        row = session.get(example.Message, message_id)
        row.content = "mine"
        # Another writer commits between our read and our commit.
        example.Message.update(content="theirs").where(example.Message.id == message_id).execute()
        return {"ok": True}  # flushed and committed after this, before it is sent

    client = app.test_client()
    client.post("/users", json={"username": "bob"})
    message = post(client, "bob", "draft")
    response = client.patch(f"/race/{message['id']}")
    assert response.status_code == 409
    assert client.get(f"/messages/{message['id']}").json["content"] == "theirs"
    assert not db.in_transaction()


def test_bad_input_is_a_4xx_and_rolls_back(client):
    assert client.post("/messages", json={"content": "no user"}).status_code == 400
    assert client.post("/messages", json={"user": "nobody", "content": "x"}).status_code == 404
    assert client.get("/messages").json["items"] == []
