"""A Session per web request that commits *before* the response is sent.

The rule this module enforces: an HTTP client must never receive a success response for
changes that were then not stored. So the request's ``Session`` commits after the view has
produced its response but before a byte of it goes out; a commit that fails turns into an
error response instead:

- ``StaleDataError`` (another request changed or deleted the row: optimistic locking) → 409
  Conflict;
- another ``ConcurrencyError`` (serialization failure, deadlock, lock timeout: transient)
  → 503 with ``Retry-After: 1``;
- anything else propagates (the server answers 500), still before the response was sent.

A response with a status of 400 or more rolls the session back; a view exception rolls
back and propagates (a ``StaleDataError`` from a view's own flush becomes the 409 too).

Framework-neutral: ``WSGISessionMiddleware(app, bind)`` and ``ASGISessionMiddleware(app,
bind)`` wrap any WSGI/ASGI application; views reach the request's session with
``current_session()`` (a context variable, so threads and asyncio tasks each see their own).
``playhouse.flask_utils.FlaskDB(app, db, session_per_request=True)`` does the same inside
Flask. The response body is held until the commit: a streamed response is buffered.
tinyorm is synchronous: under ASGI the commit runs on the event loop's thread, like the
view's own queries.
"""

from __future__ import annotations

import contextvars
import json

from tinyorm import ConcurrencyError, Session, StaleDataError

__all__ = [
    "current_session",
    "RequestSession",
    "WSGISessionMiddleware",
    "ASGISessionMiddleware",
    "error_response_for",
    "check_version",
    "etag_for",
]

_CURRENT = contextvars.ContextVar("tinyorm_request_session", default=None)


def current_session():
    """The Session of the request being handled; LookupError outside a request."""
    session = _CURRENT.get()
    if session is None:
        raise LookupError("no request session: wrap the app in a session middleware (playhouse.sessions)")
    return session


def error_response_for(exc):
    """``(status_line, headers, body_bytes)`` for a commit/flush error, or None to re-raise."""
    if isinstance(exc, StaleDataError):
        status, reason, extra = 409, "Conflict", []
    elif isinstance(exc, ConcurrencyError):
        status, reason, extra = 503, "Service Unavailable", [("Retry-After", "1")]
    else:
        return None
    body = json.dumps({"error": reason.lower(), "detail": str(exc)}).encode("utf-8")
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))] + extra
    return f"{status} {reason}", headers, body


def check_version(obj, expected):
    """Raise StaleDataError unless ``obj``'s VersionField equals ``expected`` (an If-Match
    header's value, an ETag from :func:`etag_for`, or a version number from a form)."""
    version = type(obj)._meta.version_field
    if version is None:
        raise TypeError(f"{type(obj).__name__} has no VersionField to check")
    current = getattr(obj, version.name)
    if expected is None:
        return current
    text = str(expected).strip()
    if text.startswith("W/"):
        text = text[2:]
    text = text.strip('"')
    wanted = text.rsplit("-", 1)[-1]
    if wanted != str(current):
        raise StaleDataError(
            f"{type(obj).__name__} {obj.pk!r} is at version {current}, not {wanted}: it changed since it was read"
        )
    return current


def etag_for(obj):
    """A strong ETag naming the object's row and version: ``"user-7-3"``."""
    version = type(obj)._meta.version_field
    value = getattr(obj, version.name) if version is not None else ""
    return f'"{type(obj)._meta.table_name}-{obj.pk}-{value}"'


def _status_code(status):
    return int(str(status).split(" ", 1)[0]) if isinstance(status, str) else int(status)


def _close_connections(bind):
    """Return the request's connections (to the pool): a request leaves none open.

    ``bind`` is a Database, a Router (each of its databases) or a proxy of either.
    """
    databases = getattr(bind, "databases", None)
    for database in databases.values() if isinstance(databases, dict) else (bind,):
        while database.in_transaction():  # a view left a transaction open: it must not leak
            database.rollback()
        database.close()


class RequestSession:
    """One request's Session and how it ends; the middlewares and FlaskDB build on it."""

    def __init__(self, bind, close_connections=True, **session_options):
        self.bind = bind
        self.close_connections = close_connections
        self.session = Session(bind, **session_options)
        self._token = _CURRENT.set(self.session)

    def finish(self, status):
        """Commit (status below 400) or roll back. Returns None, or the error response
        ``(status_line, headers, body)`` that must be sent instead of the app's."""
        session = self.session
        if _status_code(status) >= 400:
            session.rollback()
            return None
        try:
            session.commit()
        except Exception as exc:
            session.rollback()
            response = error_response_for(exc)
            if response is None:
                raise
            return response
        return None

    def fail(self, exc):
        """The view raised: roll back; the error response for it, or None to re-raise."""
        self.session.rollback()
        return error_response_for(exc)

    def close(self):
        """End the request: close the Session (and, by default, the connections)."""
        try:
            self.session.close()
            if self.close_connections:
                _close_connections(self.bind)
        finally:
            _CURRENT.reset(self._token)


class WSGISessionMiddleware:
    """``app = WSGISessionMiddleware(app, db)``: a Session per request, committed before
    the response is sent (see the module docstring)."""

    def __init__(self, app, bind, close_connections=True, **session_options):
        self.app = app
        self.bind = bind
        self.close_connections = close_connections
        self.session_options = session_options

    def __call__(self, environ, start_response):
        request = RequestSession(self.bind, self.close_connections, **self.session_options)
        environ["tinyorm.session"] = request.session
        started = []
        body = []

        def capture(status, headers, exc_info=None):
            started[:] = [status, headers, exc_info]
            return body.append  # the legacy write() callable

        try:
            try:
                result = self.app(environ, capture)
                try:
                    body.extend(result)  # the view's work finishes before the commit
                finally:
                    if hasattr(result, "close"):
                        result.close()
            except Exception as exc:
                replacement = request.fail(exc)
                if replacement is None:
                    raise
            else:
                replacement = request.finish(started[0])
        finally:
            request.close()
        if replacement is not None:
            status, headers, payload = replacement
            start_response(status, headers)
            return [payload]
        start_response(*started)
        return body


class ASGISessionMiddleware:
    """``app = ASGISessionMiddleware(app, db)``: the ASGI counterpart (HTTP requests only)."""

    def __init__(self, app, bind, close_connections=True, **session_options):
        self.app = app
        self.bind = bind
        self.close_connections = close_connections
        self.session_options = session_options

    async def __call__(self, scope, receive, send):
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        request = RequestSession(self.bind, self.close_connections, **self.session_options)
        scope["state"] = dict(scope.get("state") or {}, tinyorm_session=request.session)
        messages = []

        async def hold(message):
            messages.append(message)

        try:
            try:
                await self.app(scope, receive, hold)
            except Exception as exc:
                replacement = request.fail(exc)
                if replacement is None:
                    raise
            else:
                start = next((m for m in messages if m["type"] == "http.response.start"), None)
                replacement = request.finish(start["status"] if start else 500)
        finally:
            request.close()
        if replacement is not None:
            status, headers, payload = replacement
            await send(
                {
                    "type": "http.response.start",
                    "status": _status_code(status),
                    "headers": [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers],
                }
            )
            await send({"type": "http.response.body", "body": payload})
            return
        for message in messages:
            await send(message)
