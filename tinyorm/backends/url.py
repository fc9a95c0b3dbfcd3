"""``connect(url)``: a Database from a URL.

``sqlite:///relative.db``, ``sqlite:////absolute/path.db``, ``sqlite:///:memory:``;
``postgresql://user:password@host:port/name`` (``postgres://`` too);
``mysql://user:password@host:port/name`` (``mariadb://`` too). Query-string options are
passed on: pool options (``max_connections``, ``stale_timeout``, ``pool_timeout``), SQLite's
``timeout`` and ``journal_mode``, and driver connect options (``connect_timeout``,
``sslmode``, ...). Numbers and booleans in the query string are converted.
"""

from urllib.parse import parse_qsl, unquote, urlsplit

from ..exceptions import ImproperlyConfigured

_SCHEMES = {
    "sqlite": "sqlite",
    "sqlite3": "sqlite",
    "postgresql": "postgresql",
    "postgres": "postgresql",
    "pgsql": "postgresql",
    "mysql": "mysql",
    "mariadb": "mysql",
}


def _convert(value):
    lowered = value.lower()
    if lowered in ("true", "yes", "on"):
        return True
    if lowered in ("false", "no", "off"):
        return False
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def parse_url(url):
    """Split a URL into ``(engine, database, options)``."""
    if not isinstance(url, str) or "://" not in url:
        raise ImproperlyConfigured(f"not a database URL: {url!r} (expected scheme://...)")
    scheme = url.split("://", 1)[0].lower().split("+", 1)[0]
    engine = _SCHEMES.get(scheme)
    if engine is None:
        raise ImproperlyConfigured(
            f"unknown database URL scheme {scheme!r} in {url!r}; "
            "use sqlite://, postgresql:// (postgres://), mysql:// or mariadb://"
        )
    if engine == "sqlite":
        rest = url.split("://", 1)[1]
        path, _, query = rest.partition("?")
        if path.startswith("/"):
            path = path[1:]  # sqlite:///x.db -> x.db ; sqlite:////abs -> /abs
        path = unquote(path) or ":memory:"
        options = {key: _convert(value) for key, value in parse_qsl(query)}
        return engine, path, options
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ImproperlyConfigured(f"bad database URL {url!r}: {exc}") from exc
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
        raise ImproperlyConfigured(f"database URL {url!r} names no database")
    for key, value in parse_qsl(parts.query):
        options[key] = _convert(value)
    return engine, database, options


def connect(url, **kwargs):
    """Return a Database for ``url`` (it connects lazily, on first use)."""
    from .mysql import MySQLDatabase
    from .postgresql import PostgresDatabase
    from .sqlite import SqliteDatabase

    engine, database, options = parse_url(url)
    options.update(kwargs)
    database_class = {"sqlite": SqliteDatabase, "postgresql": PostgresDatabase, "mysql": MySQLDatabase}[engine]
    try:
        return database_class(database, **options)
    except TypeError as exc:
        raise ImproperlyConfigured(f"bad option in {url!r}: {exc}") from exc
