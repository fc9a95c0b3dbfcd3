"""The tinyorm error hierarchy.

``TinyORMError`` is the root. Driver exceptions (sqlite3, psycopg2, pymysql) are re-raised as
the PEP 249 mirror below with the original chained as ``__cause__``, so callers catch one set
of classes whatever the engine.
"""


class TinyORMError(Exception):
    """Root of every error tinyorm raises."""

    # Only on the error Session.commit() raises after some databases did commit: their names.
    committed: list[str]


# -- PEP 249 mirror -------------------------------------------------------------------------
class InterfaceError(TinyORMError):
    """The driver or the connection interface failed (not the database itself)."""


class DatabaseError(TinyORMError):
    """An error reported by the database."""


class IntegrityError(DatabaseError):
    """A constraint was violated: unique, not null, foreign key, check."""


class OperationalError(DatabaseError):
    """The database could not do the operation: unreachable, locked, timed out, ..."""


class ProgrammingError(DatabaseError):
    """Bad SQL: a missing table or column, a syntax error, a wrong parameter count."""


class DataError(DatabaseError):
    """A value does not fit its column: wrong type, out of range, too long."""


class InternalError(DatabaseError):
    """The database reported an internal inconsistency."""


class NotSupportedError(DatabaseError):
    """The engine does not support what was asked of it."""


# -- ORM errors -----------------------------------------------------------------------------
class DoesNotExist(TinyORMError):
    """No row matched; each model has its own subclass, ``Model.DoesNotExist``."""


class ConcurrencyError(TinyORMError):
    """A write lost a race with another writer."""


class StaleDataError(ConcurrencyError):
    """An optimistic-lock check failed: the row was changed or deleted by someone else."""


# -- transient failures ----------------------------------------------------------------------
# Each is an OperationalError (the engine could not do it) and, where running the whole
# transaction again can succeed, also a ConcurrencyError, so one ``except ConcurrencyError``
# catches every "try again" case (``db.retry`` does exactly that).
class SerializationError(OperationalError, ConcurrencyError):
    """The engine refused to serialize this transaction with a concurrent one and rolled
    it back: PostgreSQL 40001, a Galera certification failure. Run it again."""


class DeadlockError(SerializationError):
    """This transaction was chosen as a deadlock victim and rolled back (PostgreSQL 40P01,
    MySQL/MariaDB 1213). Run it again."""


class LockTimeoutError(OperationalError, ConcurrencyError):
    """A lock was not granted in time (PostgreSQL 55P03 and ``lock_timeout``, MySQL/MariaDB
    1205, SQLite still busy after its busy timeout)."""


class ConnectionLostError(OperationalError):
    """The connection died (server restarted or killed, network gone). Inside a transaction
    the transaction is lost with it; ``commit_outcome_unknown`` is True when it died during
    COMMIT, when nobody can tell whether the transaction was stored."""

    commit_outcome_unknown = False


class TransactionAbortedError(OperationalError):
    """The engine already rolled back the transaction this statement or block belongs to.

    Raised for every later statement of the block and by the outermost ``atomic()`` instead
    of committing. ``original`` is the error that aborted the transaction (also chained as
    ``__cause__``).
    """

    def __init__(self, message: str, original: BaseException | None = None) -> None:
        super().__init__(message)
        self.original = original


class RoutingError(TinyORMError):
    """A statement cannot be routed, e.g. it joins models living on different databases."""


class MigrationError(TinyORMError):
    """A migration could not be planned or applied."""


class ImproperlyConfigured(TinyORMError):
    """tinyorm was set up wrongly: a bad URL, a missing driver, a model without a database."""


class FieldError(TinyORMError, ValueError):
    """An unknown field or lookup was named, e.g. in ``filter(nosuch__gt=1)``."""


class UnsafeSQLError(TinyORMError, ValueError):
    """An argument that would become SQL text (a cast type, a join kind) is not one the
    engine's grammar allows; refused before any SQL is sent."""


class FlushError(TinyORMError):
    """A session's pending objects cannot be written in any order (a cycle of required
    references: non-nullable foreign keys between new objects)."""


PEP249_NAMES = (
    "IntegrityError",
    "DataError",
    "OperationalError",
    "ProgrammingError",
    "InternalError",
    "NotSupportedError",
    "InterfaceError",
    "DatabaseError",
)
_BY_NAME: dict[str, type[TinyORMError]] = {name: globals()[name] for name in PEP249_NAMES}


def translate_driver_error(exc: BaseException) -> type[TinyORMError]:
    """Return the tinyorm class matching a driver exception, by its PEP 249 ancestry."""
    for klass in type(exc).__mro__:
        mapped = _BY_NAME.get(klass.__name__)
        if mapped is not None:
            return mapped
    return DatabaseError
