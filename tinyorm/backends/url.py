"""``connect(url)``: a Database from a URL.

``sqlite:///relative.db``, ``sqlite:////absolute/path.db``, ``sqlite:///:memory:``;
``postgresql://user:password@host:port/name`` (``postgres://`` too);
``mysql://user:password@host:port/name`` (``mariadb://`` too). Query-string options are
passed on: pool options (``max_connections``, ``stale_timeout``, ``pool_timeout``), SQLite's
``timeout`` and ``journal_mode``, and driver connect options (``connect_timeout``,
``sslmode``, ...). Options tinyorm or a driver takes as a number or a flag are converted
(``max_connections=5``, ``timeout=1.5``, ``autoconnect=false``); every other value stays the
text written (``?password=007`` is ``"007"``).

A URL may hold a password: :func:`mask_url` is how tinyorm writes a URL into an error
message, a log line or a ``repr`` (``postgresql://app:***@db/app``).
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import parse_qsl, unquote, urlsplit

from ..exceptions import ImproperlyConfigured
from ..log import check_log_params

if TYPE_CHECKING:
    from .base import Database

_SCHEMES = {
    "sqlite": "sqlite",
    "sqlite3": "sqlite",
    "postgresql": "postgresql",
    "postgres": "postgresql",
    "pgsql": "postgresql",
    "mysql": "mysql",
    "mariadb": "mysql",
}


def _flag(value: str) -> bool:
    lowered = value.lower()
    if lowered in ("true", "yes", "on", "1"):
        return True
    if lowered in ("false", "no", "off", "0"):
        return False
    raise ValueError(f"expected true or false, not {value!r}")


# Options whose values are numbers or flags, for tinyorm (pool, SQLite) or a driver
# (pymysql compares its timeouts with numbers; libpq takes every value as text anyway).
# Any other option keeps its text: a password of digits must stay a password of digits.
OPTION_TYPES: dict[str, Callable[[str], Any]] = {
    "port": int,
    "max_connections": int,
    "stale_timeout": float,
    "pool_timeout": float,
    "autoconnect": _flag,
    "log_params": check_log_params,
    "timeout": float,
    "check_same_thread": _flag,
    "cached_statements": int,
    "detect_types": int,
    "uri": _flag,
    "read_only": _flag,
    "connect_timeout": int,
    "read_timeout": float,
    "write_timeout": float,
    "local_infile": _flag,
    "max_allowed_packet": int,
    "client_flag": int,
    "ssl_verify_cert": _flag,
    "ssl_verify_identity": _flag,
}

_EXPECTED: dict[Callable[[str], Any], str] = {
    _flag: "expected true or false",
    check_log_params: "expected true, false or a length",
}

# Query-string keys whose values are secrets, masked with the URL's password.
SECRET_OPTIONS = ("password", "passwd", "sslpassword", "ssl_key_password", "secret", "token")

# "scheme://user:", then the password up to an "@" (also "user:password@..." with no scheme)
_USERINFO_PASSWORD = re.compile(r"^(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^:@/?#]*:).*@", re.DOTALL)
_BARE_USERINFO_PASSWORD = re.compile(r"^(?P<head>[^:@/?#]*:).*@", re.DOTALL)
_SECRET_QUERY = re.compile(r"(?P<key>[?&](?:%s)=)[^&#]*" % "|".join(SECRET_OPTIONS), re.IGNORECASE)


def mask_url(url: Any) -> Any:
    """``url`` with its password (and any secret query option) replaced by ``***``.

    Works on malformed URLs too, since those are the ones error messages quote:
    ``mask_url("postgresql://app:s3cret@db/app?sslmode=require")`` is
    ``"postgresql://app:***@db/app?sslmode=require"``.
    """
    if not isinstance(url, str):
        return url
    text = url
    match = (_USERINFO_PASSWORD if "://" in text else _BARE_USERINFO_PASSWORD).match(text)
    if match is not None:
        # The password runs to the last "@" before the query: a raw "@" or "/" in it is
        # common. With no "@" before a "?", the "?" belongs to the password.
        head = match.group("head")
        before_query = text.split("?", 1)[0]
        at = before_query.rfind("@")
        if at < len(head) and "/" not in before_query[len(head) :]:
            at = text.rfind("@")
        if at >= len(head):  # else "host:port/db?x=a@b": no password at all
            text = head + "***" + text[at:]
    return _SECRET_QUERY.sub(lambda found: found.group("key") + "***", text)


def _option(key: str, value: str, url: str) -> Any:
    kind = OPTION_TYPES.get(key)
    if kind is None:
        return value
    try:
        return kind(value)
    except ValueError:
        raise ImproperlyConfigured(
            f"bad value for option {key!r} in {mask_url(url)!r}: {_EXPECTED.get(kind, 'expected a number')}"
        ) from None


def _engine_of(url: str) -> str | None:
    return _SCHEMES.get(url.split("://", 1)[0].lower().split("+", 1)[0])


def is_file_url(url: str) -> bool:
    """Does ``url`` name a database file (SQLite), which has no server and no connect timeout?"""
    return _engine_of(url) == "sqlite"


def url_relative_to(url: str, root: str) -> str:
    """``url`` with a relative database file path (``sqlite:///app.db``) taken from the
    folder ``root``; an absolute path, ``:memory:`` or a server URL as it is."""
    if not is_file_url(url):
        return url
    scheme, rest = url.split("://", 1)
    if not rest.startswith("/") or rest.startswith("//") or rest[1:] in ("", ":memory:"):
        return url
    return f"{scheme}:///" + os.path.join(root, rest[1:])


def parse_url(url: str) -> tuple[str, str, dict[str, Any]]:
    """Split a URL into ``(engine, database, options)``."""
    if not isinstance(url, str) or "://" not in url:
        raise ImproperlyConfigured(f"not a database URL: {mask_url(url)!r} (expected scheme://...)")
    scheme = url.split("://", 1)[0].lower().split("+", 1)[0]
    engine = _SCHEMES.get(scheme)
    if engine is None:
        raise ImproperlyConfigured(
            f"unknown database URL scheme {scheme!r} in {mask_url(url)!r}; "
            "use sqlite://, postgresql:// (postgres://), mysql:// or mariadb://"
        )
    if engine == "sqlite":
        rest = url.split("://", 1)[1]
        path, _, query = rest.partition("?")
        if path.startswith("/"):
            path = path[1:]  # sqlite:///x.db -> x.db ; sqlite:////abs -> /abs
        path = unquote(path) or ":memory:"
        options: dict[str, Any] = {key: _option(key, value, url) for key, value in parse_qsl(query)}
        return engine, path, options
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ImproperlyConfigured(f"bad database URL {mask_url(url)!r}: {_scrub(str(exc), url)}") from None
    if "@" in parts.path or "@" in parts.fragment:
        # "user:pa/ss@host" splits at the "/": the host would be part of the password and
        # the rest of the password the database name (and echoed as such). Refuse instead.
        raise ImproperlyConfigured(
            f"database URL {mask_url(url)!r} is ambiguous: percent-encode '/', '@', '?' and '#' in the "
            "user name and password (urllib.parse.quote(password, safe=''))"
        )
    options = {}
    if parts.hostname:
        options["host"] = parts.hostname
    if port:
        options["port"] = port
    if parts.username:
        options["user"] = unquote(parts.username)
    if parts.password is not None:
        options["password"] = unquote(parts.password)
    database = unquote(parts.path.lstrip("/"))
    if not database:
        raise ImproperlyConfigured(f"database URL {mask_url(url)!r} names no database")
    for key, value in parse_qsl(parts.query):
        options[key] = _option(key, value, url)
    return engine, database, options


def _scrub(message: str, url: str) -> str:
    """``message`` with any part of ``url``'s userinfo replaced (urllib quotes the netloc)."""
    masked = mask_url(url)
    return message.replace(url, masked) if url != masked else message


def connect(url: str, **kwargs: Any) -> Database:
    """Return a Database for ``url`` (it connects lazily, on first use)."""
    from .mysql import MySQLDatabase
    from .postgresql import PostgresDatabase
    from .sqlite import SqliteDatabase

    engine, database, options = parse_url(url)
    options.update(kwargs)
    database_class: type[Database] = {"sqlite": SqliteDatabase, "postgresql": PostgresDatabase, "mysql": MySQLDatabase}[
        engine
    ]
    try:
        return database_class(database, **options)
    except TypeError as exc:
        raise ImproperlyConfigured(f"bad option in {mask_url(url)!r}: {exc}") from exc
