"""Read-your-writes across requests: WSGI and ASGI middleware for a Router.

Each request runs in its own routing scope (``router.request()``), so nothing one request
wrote or pinned leaks into the next one served by the same thread or task. After a request
that wrote, the response carries a cookie with the router's position token; for
``max_age`` seconds, requests sending it back read at least that position (a replica that
has replayed it, else the primary), wherever they are served::

    app = WSGIRoutingMiddleware(app, router)            # Flask, Django, any WSGI app
    app = ASGIRoutingMiddleware(app, router)            # Starlette, FastAPI, any ASGI app

Give the router a ``token_secret`` so tokens are signed: a forged or foreign cookie is then
ignored with a warning on ``tinyorm.router`` and the request reads as if it had none.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterable, Iterator, MutableMapping
from http.cookies import CookieError, SimpleCookie
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from .exceptions import RoutingError
from .log import router_logger

if TYPE_CHECKING:
    from .router import Router

# The WSGI and ASGI shapes this module handles (PEP 3333, the ASGI spec), loosely typed.
StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
ASGIMessage = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[ASGIMessage]]
Send = Callable[[ASGIMessage], Awaitable[None]]
ASGIApp = Callable[[MutableMapping[str, Any], Receive, Send], Awaitable[None]]

__all__ = ["WSGIRoutingMiddleware", "ASGIRoutingMiddleware"]

DEFAULT_COOKIE = "tinyorm_position"


class _Routing:
    def __init__(
        self,
        router: Router,
        cookie_name: str = DEFAULT_COOKIE,
        max_age: float = 10,
        path: str = "/",
        secure: bool = False,
        samesite: str | None = "Lax",
    ) -> None:
        self.router = router
        self.cookie_name = cookie_name
        self.max_age = max_age
        self.path = path
        self.secure = secure
        self.samesite = samesite

    def _token_from(self, cookie_header: str | None) -> str | None:
        if not cookie_header:
            return None
        cookies: SimpleCookie = SimpleCookie()
        try:
            cookies.load(cookie_header)
        except CookieError:
            return None
        morsel = cookies.get(self.cookie_name)
        return unquote(morsel.value) if morsel is not None and morsel.value else None

    def _enter(self, stack: contextlib.ExitStack, cookie_header: str | None) -> None:
        """Open the request's scope and apply its token, if any and valid."""
        stack.enter_context(self.router.request())
        token = self._token_from(cookie_header)
        if token:
            try:
                stack.enter_context(self.router.after(token))
            except RoutingError as exc:
                router_logger.warning("position cookie ignored: %s", exc)

    def _set_cookie(self) -> str | None:
        """The Set-Cookie value after a request that wrote, else None."""
        if not self.router.wrote():
            return None  # a request that only carried a cookie does not extend it
        token = self.router.position()
        if not token:
            return None
        parts = [f"{self.cookie_name}={quote(token, safe='')}", f"Max-Age={int(self.max_age)}", f"Path={self.path}"]
        parts.append("HttpOnly")
        if self.samesite:
            parts.append(f"SameSite={self.samesite}")
        if self.secure:
            parts.append("Secure")
        return "; ".join(parts)


class WSGIRoutingMiddleware(_Routing):
    """WSGI middleware: a routing scope per request and the position cookie.

    ``max_age``: seconds later requests keep reading at least a write's position;
    ``cookie_name``, ``path``, ``secure`` and ``samesite`` shape the cookie."""

    def __init__(self, app: WSGIApp, router: Router, **options: Any) -> None:
        super().__init__(router, **options)
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> _ClosingBody:
        stack = contextlib.ExitStack()
        self._enter(stack, environ.get("HTTP_COOKIE"))

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            cookie = self._set_cookie()
            if cookie is not None:
                headers = [*headers, ("Set-Cookie", cookie)]
            return start_response(status, headers, exc_info)

        try:
            body = self.app(environ, start)
        except BaseException:
            stack.close()
            raise
        return _ClosingBody(body, stack)


class _ClosingBody:
    """The app's response body; the request scope ends when the server closes it."""

    def __init__(self, body: Iterable[bytes], stack: contextlib.ExitStack) -> None:
        self.body = body
        self.stack = stack

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.body)

    def close(self) -> None:
        try:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
        finally:
            self.stack.close()


class ASGIRoutingMiddleware(_Routing):
    """ASGI middleware: a routing scope per HTTP request (its task's context) and the
    position cookie. Same options as :class:`WSGIRoutingMiddleware`."""

    def __init__(self, app: ASGIApp, router: Router, **options: Any) -> None:
        super().__init__(router, **options)
        self.app = app

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        if scope.get("type") != "http":
            return await self.app(scope, receive, send)
        cookie_header = "; ".join(
            value.decode("latin-1") for name, value in scope.get("headers", ()) if name.lower() == b"cookie"
        )
        with contextlib.ExitStack() as stack:
            self._enter(stack, cookie_header)

            async def send_with_cookie(message: ASGIMessage) -> None:
                if message.get("type") == "http.response.start":
                    cookie = self._set_cookie()
                    if cookie is not None:
                        headers = [*message.get("headers", ()), (b"set-cookie", cookie.encode("latin-1"))]
                        message = {**message, "headers": headers}
                await send(message)

            return await self.app(scope, receive, send_with_cookie)
