"""The WSGI and ASGI routing middleware with real apps: a request that writes gets the
position cookie; a later request on another thread (WSGI) or task (ASGI) carrying it sees
the write, one without it reads the replica, which (replay paused, or the SQLite stand-in)
does not have it yet. A forged cookie is ignored with a warning."""

import asyncio
import logging
import threading

import httpx
import pytest
from werkzeug.test import Client

from tinyorm import CharField, Model
from tinyorm.middleware import ASGIRoutingMiddleware, WSGIRoutingMiddleware

from .conftest import replay_paused


class Post(Model):
    title = CharField(max_length=100)

    class Meta:
        table_name = "rt_post"


def wsgi_app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/write":
        post = Post.create(title="hello")
        body = str(post.id)
    else:
        pk = int(environ["QUERY_STRING"].partition("=")[2])
        body = "found" if Post.get_or_none(Post.id == pk) is not None else "missing"
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body.encode()]


async def asgi_app(scope, receive, send):
    path = scope["path"]
    if path == "/write":
        body = str(Post.create(title="hello").id)
    else:
        pk = int(scope["query_string"].decode().partition("=")[2])
        body = "found" if Post.get_or_none(Post.id == pk) is not None else "missing"
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body.encode()})


class _Nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _paused(routed, replicated):
    return replay_paused(replicated) if routed.real else _Nothing()


def _cookie_of(set_cookie):
    return set_cookie.split(";", 1)[0]


def _in_thread(function):
    result = {}

    def run():
        try:
            result["value"] = function()
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            result["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(30)
    if "error" in result:
        raise result["error"]
    return result["value"]


def test_wsgi_middleware_cookie_carries_the_write(routed, replicated, caplog):
    router = routed([Post], token_secret="secret", pin_window=10)
    app = WSGIRoutingMiddleware(wsgi_app, router, max_age=30)
    with _paused(routed, replicated):
        response = Client(app, use_cookies=False).post("/write")
        pk = int(response.get_data(as_text=True))
        set_cookie = response.headers["Set-Cookie"]
        assert set_cookie.startswith("tinyorm_position=") and "Max-Age=30" in set_cookie
        cookie = _cookie_of(set_cookie)

        def read(headers):
            result = Client(app, use_cookies=False).get(f"/read?id={pk}", headers=headers)
            router.close()
            return result.get_data(as_text=True), result.headers.get("Set-Cookie")

        assert _in_thread(lambda: read({"Cookie": cookie})) == ("found", None)
        assert _in_thread(lambda: read({})) == ("missing", None)
        caplog.set_level(logging.WARNING, logger="tinyorm.router")
        forged = cookie[:-2] + ("AA" if not cookie.endswith("AA") else "BB")
        assert _in_thread(lambda: read({"Cookie": forged})) == ("missing", None)
        assert any("position cookie ignored" in record.getMessage() for record in caplog.records)
        # The forged cookie changed nothing for anyone else.
        assert _in_thread(lambda: read({"Cookie": cookie})) == ("found", None)
    assert router.stats()["down"] == {}


def test_asgi_middleware_cookie_carries_the_write(routed, replicated):
    router = routed([Post], token_secret="secret", pin_window=10)
    app = ASGIRoutingMiddleware(asgi_app, router)

    async def scenario():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.post("/write")
            pk = int(response.text)
            cookie = _cookie_of(response.headers["set-cookie"])

        async def read(headers):
            # A client of its own: no cookie jar carries the first response's cookie along.
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                result = await client.get(f"/read?id={pk}", headers=headers)
                return result.text

        # Each read in a task of its own.
        with_cookie = await asyncio.create_task(read({"Cookie": cookie}))
        without = await asyncio.create_task(read({}))
        return with_cookie, without

    with _paused(routed, replicated):
        # A fresh thread: the test thread's own scope holds the tables' DDL.
        assert _in_thread(lambda: asyncio.run(scenario())) == ("found", "missing")
    router.close_all()


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_requests_that_only_read_set_no_cookie(routed, kind):
    router = routed([Post])
    if kind == "wsgi":
        app = WSGIRoutingMiddleware(wsgi_app, router)
        assert _in_thread(lambda: Client(app, use_cookies=False).get("/read?id=1").headers.get("Set-Cookie")) is None
    else:
        app = ASGIRoutingMiddleware(asgi_app, router)

        async def scenario():
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                return (await client.get("/read?id=1")).headers.get("set-cookie")

        assert _in_thread(lambda: asyncio.run(scenario())) is None
