"""tinyorm's loggers, one per concern, all under ``tinyorm`` (configure that one to get all).

* ``tinyorm.sql``: every statement at DEBUG, from :meth:`Database.execute_sql`, with its
  parameters as the database's ``log_params`` option says (shown, hidden or truncated);
* ``tinyorm.pool``: connections opened, reused past their ``stale_timeout`` and closed,
  dropped after a disconnect (WARNING), a pool running dry (WARNING);
* ``tinyorm.router``: replicas marked down and lagging replicas left out (WARNING, with the
  reason), reads failed over to another database (INFO);
* ``tinyorm.migrations``: each migration applied, rolled back, stamped or failed, and each
  statement it runs (INFO).

No record carries a password: URLs are written with :func:`tinyorm.backends.url.mask_url`
and driver messages are scrubbed of the connection's password.
"""

import logging
from typing import Any

sql_logger = logging.getLogger("tinyorm.sql")
pool_logger = logging.getLogger("tinyorm.pool")
router_logger = logging.getLogger("tinyorm.router")
migrations_logger = logging.getLogger("tinyorm.migrations")

# How many rows of an executemany() a DEBUG line shows before it says "... N more".
_MANY_ROWS_SHOWN = 3


def check_log_params(value: Any) -> bool | int:
    """``log_params`` as given to a Database: True (show), False (hide) or a length > 0."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value > 0:
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "yes", "on", "show"):
            return True
        if lowered in ("false", "no", "off", "hide"):
            return False
        if lowered.isdigit() and int(lowered) > 0:
            return int(lowered)
    raise ValueError(f"log_params must be True, False or a positive length, not {value!r}")


def _shown(value: Any, limit: bool | int) -> str:
    text = repr(value)
    if limit is True or len(text) <= limit:
        return text
    return f"{text[:limit]}...(+{len(text) - limit} chars)"


def _row(params: Any, limit: bool | int) -> str:
    if isinstance(params, dict):
        return "{" + ", ".join(f"{key!r}: {_shown(value, limit)}" for key, value in params.items()) + "}"
    items = [_shown(value, limit) for value in params]
    return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"


def format_params(params: Any, policy: bool | int, many: bool = False) -> str:
    """The parameter part of a ``tinyorm.sql`` line under a ``log_params`` policy."""
    if params is None:
        return ""
    if many:
        rows = params if isinstance(params, (list, tuple)) else list(params)
        if policy is False:
            return f" [executemany: {len(rows)} rows, parameters hidden]"
        shown = "; ".join(_row(row, policy) for row in rows[:_MANY_ROWS_SHOWN])
        more = f"; ... {len(rows) - _MANY_ROWS_SHOWN} more" if len(rows) > _MANY_ROWS_SHOWN else ""
        return f" [executemany: {len(rows)} rows] {shown}{more}"
    if policy is False:
        count = len(params) if hasattr(params, "__len__") else "?"
        return f" [{count} parameters hidden]"
    if policy is True:
        return f" {params!r}"
    return " " + _row(params, policy)


def scrub(message: str, secret: Any) -> str:
    """``message`` with ``secret`` (a password) replaced by ``***``.

    Secrets shorter than 4 characters are left alone: replacing every "a" in a message
    would make it unreadable, and a driver does not quote passwords in the first place.
    """
    if isinstance(secret, str) and len(secret) >= 4 and secret in message:
        return message.replace(secret, "***")
    return message
