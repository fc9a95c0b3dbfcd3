"""playhouse.sessions (framework-neutral WSGI/ASGI Session per request) and
playhouse.flask_utils (connection per request, 404s, pagination), on every engine."""

import asyncio
import json

import pytest

import tinyorm
from playhouse.sessions import ASGISessionMiddleware, WSGISessionMiddleware, check_version, current_session, etag_for
from tinyorm import CharField, Model, StaleDataError, VersionField

flask = pytest.importorskip("flask", reason="the flask extra is not installed")


class Page(Model):
    title = CharField(max_length=60)
    version = VersionField()


@pytest.fixture
def pages(db):
    Page.bind(db)
    db.create_tables([Page])
    return Page.create(title="home")


def call_wsgi(app, path="/"):
    started = {}

    def start_response(status, headers, exc_info=None):
        started["status"], started["headers"] = status, dict(headers)

    body = b"".join(app({"PATH_INFO": path, "REQUEST_METHOD": "POST"}, start_response))
    return started["status"], started["headers"], body


def renaming_app(title, status="200 OK", race=False):
    """A WSGI app that renames the page in the request's session (and, with ``race``, lets
    another writer change it first)."""

    def app(environ, start_response):
        session = current_session()
        assert environ["tinyorm.session"] is session
        page = session.query(Page).get()
        page.title = title
        if race:
            Page.update(title="theirs").where(Page.id == page.id).execute()
        start_response(status, [("Content-Type", "text/plain")])
        return [b"renamed"]

    return app


def test_wsgi_commits_before_the_response(db, pages):
    status, _headers, body = call_wsgi(WSGISessionMiddleware(renaming_app("about"), db))
    assert (status, body) == ("200 OK", b"renamed")
    assert db.is_closed()  # the request's connection was closed
    assert Page.get_by_id(pages.id).title == "about"


def test_wsgi_error_status_rolls_back(db, pages):
    status, _headers, _body = call_wsgi(WSGISessionMiddleware(renaming_app("nope", status="422 Unprocessable"), db))
    assert status.startswith("422") and Page.get_by_id(pages.id).title == "home"


def test_wsgi_stale_commit_is_a_409_and_the_app_response_is_not_sent(db, pages):
    status, headers, body = call_wsgi(WSGISessionMiddleware(renaming_app("mine", race=True), db))
    assert status == "409 Conflict" and headers["Content-Type"] == "application/json"
    assert json.loads(body)["error"] == "conflict" and b"renamed" not in body
    assert Page.get_by_id(pages.id).title == "theirs" and not db.in_transaction()


def test_wsgi_view_exception_rolls_back_and_propagates(db, pages):
    def broken(environ, start_response):
        current_session().query(Page).get().title = "half done"
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        call_wsgi(WSGISessionMiddleware(broken, db))
    assert Page.get_by_id(pages.id).title == "home"
    with pytest.raises(LookupError):
        current_session()


def test_asgi_commits_before_the_response_and_maps_stale_to_409(db, pages):
    def asgi(title, race=False):
        async def app(scope, receive, send):
            renaming_app(title, race=race)({"tinyorm.session": current_session()}, lambda *args: None)
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})

        return ASGISessionMiddleware(app, db)

    async def call(app):
        sent = []

        async def send(message):
            sent.append(message)

        async def receive():
            return {"type": "http.request", "body": b""}

        await app({"type": "http"}, receive, send)
        return sent

    sent = asyncio.run(call(asgi("asgi")))
    assert sent[0]["status"] == 200 and Page.get_by_id(pages.id).title == "asgi"
    sent = asyncio.run(call(asgi("mine", race=True)))
    assert sent[0]["status"] == 409 and b"conflict" in sent[1]["body"]
    assert Page.get_by_id(pages.id).title == "theirs"


def test_check_version_and_etags(db, pages):
    assert etag_for(pages) == f'"page-{pages.id}-1"'
    assert check_version(pages, etag_for(pages)) == 1
    assert check_version(pages, "1") == 1 and check_version(pages, f"W/{etag_for(pages)}") == 1
    with pytest.raises(StaleDataError, match="version 1, not 7"):
        check_version(pages, '"page-1-7"')


# -- Flask ---------------------------------------------------------------------------------------
@pytest.fixture
def flask_app(db, pages):
    from playhouse.flask_utils import FlaskDB, PaginatedQuery, get_object_or_404, object_list

    for number in range(45):
        Page.create(title=f"page {number:02d}")
    app = flask.Flask(__name__)
    app.jinja_loader = __import__("jinja2").DictLoader(
        {"list.html": "{{ page }}/{{ pagination.get_page_count() }}:{% for p in pages %}{{ p.title }},{% endfor %}"}
    )
    FlaskDB(app, db)
    seen = {}

    @app.get("/pages/<int:page_id>")
    def show(page_id):
        seen["open"] = not db.is_closed()
        return {"title": get_object_or_404(Page, Page.id == page_id).title}

    @app.get("/pages")
    def listing():
        return object_list("list.html", Page.select().order_by(Page.id), context_variable="pages", paginate_by=20)

    @app.get("/titles")
    def titles():
        paginated = PaginatedQuery(Page.select(Page.title).order_by(Page.id), paginate_by=10)
        return {"titles": [page.title for page in paginated.get_object_list()], "pages": paginated.get_page_count()}

    return app, seen


def test_flask_connection_per_request_and_404(db, flask_app):
    app, seen = flask_app
    client = app.test_client()
    db.close()
    assert client.get("/pages/1").json == {"title": "home"}
    assert seen["open"] and db.is_closed()  # opened for the request, closed after it
    assert client.get("/pages/9999").status_code == 404


def test_flask_object_list_and_pagination(db, flask_app):
    app, _seen = flask_app
    client = app.test_client()
    text = client.get("/pages?page=3").get_data(as_text=True)
    assert text.startswith("3/3:page 39,") and text.count(",") == 6
    assert client.get("/pages?page=4").status_code == 404  # past the last page
    assert client.get("/pages?page=zero").status_code == 404
    assert client.get("/titles?page=2").json == {"titles": [f"page {n:02d}" for n in range(9, 19)], "pages": 5}


def test_wsgi_with_a_router_closes_every_connection(db, db_url, pages):
    router = tinyorm.Router(primary=db_url)
    Page.bind(router)
    try:
        status, _headers, _body = call_wsgi(WSGISessionMiddleware(renaming_app("routed"), router))
        assert status == "200 OK"
        assert all(database.is_closed() for database in router.databases.values())
        with router.use_primary():
            assert Page.get_by_id(pages.id).title == "routed"
    finally:
        Page.bind(db)
        router.close_all()
