"""A small Flask application written for tinyorm: a timeline, search, JSON data, and edits
guarded by optimistic locking.

Run as a script it demonstrates itself with Flask's test client on a temporary SQLite file
(no server is started, nothing touches the network)::

    python examples/flask_app.py

In a real deployment: ``app = create_app("postgresql://app@db/app")`` and any WSGI server.

What it shows:

- an app factory: models bound to a ``DatabaseProxy``, initialised in ``create_app``;
- ``FlaskDB(app, db, session_per_request=True)``: a connection and a Session per request,
  committed before the response is sent; a ``StaleDataError`` becomes a 409, never a 500;
- a timeline of the people a user follows, joined and paginated, two statements a page
  however many messages it holds (no N+1);
- JSON data (``Message.data["tags"].contains("python")``) and full-text search;
- ``If-Match`` / ``ETag`` version checks on edits.
"""

from __future__ import annotations

import datetime
import sys
import tempfile

try:
    from flask import Flask, jsonify, request
except ImportError:  # flask is an extra: pip install tinyorm[flask]
    Flask = None

import tinyorm
from tinyorm import CharField, DateTimeField, ForeignKeyField, JSONField, TextField, VersionField, fn

db = tinyorm.DatabaseProxy()


class Base(db.Model):
    pass


class User(Base):
    username = CharField(max_length=40, unique=True)


class Relationship(Base):
    from_user = ForeignKeyField(User, backref="relationships", on_delete="CASCADE")
    to_user = ForeignKeyField(User, backref="related_to", on_delete="CASCADE")

    class Meta:
        indexes = ((("from_user", "to_user"), True),)


class Message(Base):
    user = ForeignKeyField(User, backref="messages", on_delete="CASCADE")
    content = TextField()
    data = JSONField(default=dict)
    created = DateTimeField(default=datetime.datetime.utcnow, index=True)
    version = VersionField()

    class Meta:
        search = ("content",)  # full-text search: FTS5, a tsvector GIN index or FULLTEXT


MODELS = [User, Relationship, Message]
PER_PAGE = 20


def message_json(message, author=None):
    from playhouse.sessions import etag_for

    return {
        "id": message.id,
        "user": (author or message.user).username,
        "content": message.content,
        "data": message.data,
        "version": message.version,
        "etag": etag_for(message),
    }


def page_json(query, page, render):
    """One page of ``query``: its rows and the page count (one COUNT query)."""
    total = query.count()
    rows = query.paginate(page, PER_PAGE)
    return {"page": page, "pages": max(1, -(-total // PER_PAGE)), "items": [render(row) for row in rows]}


def create_app(database_url=None, database=None):
    """The app factory: bind the models, create the tables, register the routes."""
    if Flask is None:
        raise RuntimeError("this example needs Flask: pip install tinyorm[flask]")
    from playhouse.flask_utils import FlaskDB, get_object_or_404
    from playhouse.sessions import check_version, etag_for

    db.initialize(database if database is not None else tinyorm.connect(database_url))
    db.create_tables(MODELS)
    app = Flask(__name__)
    flask_db = FlaskDB(app, db, session_per_request=True)

    def page_arg():
        try:
            return max(1, int(request.args.get("page", "1")))
        except ValueError:
            return 1

    @app.post("/users")
    def create_user():
        user = User(username=request.json["username"])
        flask_db.session.add(user)
        flask_db.session.flush()
        return {"id": user.id, "username": user.username}, 201

    @app.get("/users")
    def list_users():
        # One row per user with its message count: group_by(User) means all its columns.
        query = (
            User.select(User, fn.COUNT(Message.id).alias("messages"))
            .join(Message, tinyorm.JOIN.LEFT_OUTER)
            .group_by(User)
            .order_by(User.username)
        )
        return page_json(query, page_arg(), lambda user: {"username": user.username, "messages": user.messages})

    @app.post("/users/<username>/follow/<other>")
    def follow(username, other):
        session = flask_db.session
        follower = get_object_or_404(session.query(User), User.username == username)
        followed = get_object_or_404(session.query(User), User.username == other)
        session.add(Relationship(from_user=follower, to_user=followed))
        return {"following": other}, 201

    @app.get("/users/<username>/following")
    def following(username):
        # A foreign key as on= joins along it; a model query as a subquery selects its key.
        query = (
            User.select()
            .join(Relationship, on=Relationship.to_user)
            .where(Relationship.from_user.in_(User.select().where(User.username == username)))
            .order_by(User.username)
        )
        return {"following": [user.username for user in query]}

    @app.get("/users/<username>/timeline")
    def timeline(username):
        user = get_object_or_404(User, User.username == username)
        # The people ``user`` follows: a model query as a subquery selects its key.
        followed = User.select().join(Relationship, on=Relationship.to_user).where(Relationship.from_user == user)
        query = (
            Message.select(Message, User)
            .join(User)
            .where(Message.user.in_(followed))
            .order_by(Message.created.desc(), Message.id.desc())
        )
        return page_json(query, page_arg(), message_json)

    @app.post("/messages")
    def post_message():
        session = flask_db.session
        author = get_object_or_404(session.query(User), User.username == request.json["user"])
        message = Message(user=author, content=request.json["content"], data=request.json.get("data", {}))
        session.add(message)
        session.flush()
        return message_json(message, author), 201, {"ETag": etag_for(message)}

    @app.get("/messages")
    def find_messages():
        query = Message.select(Message, User).join(User).order_by(Message.id)
        if "tag" in request.args:
            query = query.where(Message.data["tags"].contains(request.args["tag"]))
        if "mood" in request.args:
            query = query.where(Message.data["mood"] == request.args["mood"])
        return page_json(query, page_arg(), message_json)

    @app.get("/search")
    def search():
        # Whatever the user typed is safe: only its words reach the engine.
        words = request.args.get("q", "")
        rank = Message.search_rank(words)
        query = Message.select(Message, User).join(User).where(Message.match(words)).order_by(rank.desc(), Message.id)
        return page_json(query, page_arg(), message_json)

    @app.get("/messages/<int:message_id>")
    def show_message(message_id):
        message = get_object_or_404(Message.select(Message, User).join(User), Message.id == message_id)
        return message_json(message), 200, {"ETag": etag_for(message)}

    @app.patch("/messages/<int:message_id>")
    def edit_message(message_id):
        session = flask_db.session
        message = get_object_or_404(session.query(Message), Message.id == message_id)
        # The client says which version it edited; another edit since then is a 409.
        check_version(message, request.headers.get("If-Match") or request.json.get("version"))
        if "content" in request.json:
            message.content = request.json["content"]
        if "data" in request.json:
            message.data = request.json["data"]
        session.flush()  # the version moves on here; the commit follows before the response
        return message_json(message), 200, {"ETag": etag_for(message)}

    @app.errorhandler(KeyError)
    def missing_field(exc):
        return jsonify({"error": f"missing field {exc}"}), 400

    return app


def demo():
    """Drive the app through its flows with Flask's test client."""
    with tempfile.TemporaryDirectory() as folder:
        # A file, not :memory: -- FlaskDB closes each request's connection, and an
        # in-memory SQLite database lives only as long as its connection.
        app = create_app(f"sqlite:///{folder}/demo.db")
        try:
            return _run_demo(app.test_client())
        finally:
            db.close_all()


def _run_demo(client):
    for name in ("alice", "bob", "carol"):
        client.post("/users", json={"username": name})
    client.post("/users/alice/follow/bob")
    client.post("/users/alice/follow/carol")
    client.post("/messages", json={"user": "bob", "content": "Hello from bob", "data": {"tags": ["intro"]}})
    posted = client.post(
        "/messages", json={"user": "carol", "content": "tinyorm on Flask", "data": {"tags": ["python", "orm"]}}
    ).json
    print("alice's timeline:", [m["content"] for m in client.get("/users/alice/timeline").json["items"]])
    print("tagged python:", [m["content"] for m in client.get("/messages?tag=python").json["items"]])
    print("search 'flask':", [m["content"] for m in client.get("/search?q=flask").json["items"]])
    first = client.patch(
        f"/messages/{posted['id']}", json={"content": "tinyorm on Flask!"}, headers={"If-Match": posted["etag"]}
    )
    print("edit with a fresh ETag:", first.status_code, first.json["etag"])
    stale = client.patch(
        f"/messages/{posted['id']}", json={"content": "lost update"}, headers={"If-Match": posted["etag"]}
    )
    print("edit with a stale ETag:", stale.status_code, stale.json["error"])
    print("users:", client.get("/users").json["items"])
    return 0


if __name__ == "__main__":
    if Flask is None:
        print("examples/flask_app.py needs Flask (pip install tinyorm[flask]); skipped")
        sys.exit(0)
    sys.exit(demo())
