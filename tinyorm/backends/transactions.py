"""Transactions: ``atomic()`` blocks, broken-transaction tracking and ``retry()``.

A Database keeps, per thread (so per connection), the stack of open blocks: ``""`` for the
outer transaction, a savepoint name for each nested block. When the engine aborts the
transaction underneath it -- the connection died, MySQL/MariaDB rolled the whole
transaction back on a deadlock, PostgreSQL refuses everything until a rollback -- the
thread's connection is swapped for a :class:`BrokenTransaction` stand-in that refuses every
statement with :class:`~tinyorm.TransactionAbortedError`. So nothing is ever sent, let
alone autocommitted, on behalf of a block whose transaction is gone, and the check costs
nothing on the success path: the hot path keeps calling ``conn.cursor()`` as before, and
all the bookkeeping happens when a statement has already failed.

The block that can recover the transaction (the outermost one, or for PostgreSQL the
innermost savepoint at the time of the error) rolls back and puts the real connection
back; a block that ends "normally" after its transaction broke raises
``TransactionAbortedError`` instead of committing.
"""

from __future__ import annotations

import functools
import logging
import random
import time
from typing import TYPE_CHECKING, Any, Callable, Literal, ParamSpec, TypeVar, cast, overload

from ..events import notify_transaction_end, transaction_listeners
from ..exceptions import (
    ConcurrencyError,
    ConnectionLostError,
    OperationalError,
    TinyORMError,
    TransactionAbortedError,
)

if TYPE_CHECKING:
    from typing_extensions import Self

    from ..dialects.base import Dialect
    from .pool import _ThreadState

_F = TypeVar("_F", bound=Callable[..., Any])
_T = TypeVar("_T")
_P = ParamSpec("_P")

logger = logging.getLogger("tinyorm")

# How much of an open transaction a failed statement took down (answers of the backends'
# ``_transaction_damage`` hook; None means the statement alone failed).
WHOLE_TRANSACTION = "transaction"  # the engine rolled the whole transaction back
INNERMOST_BLOCK = "block"  # usable again once the innermost block rolls back (PostgreSQL)


class Atomic:
    """``with db.atomic():`` and ``@db.atomic()``: a transaction, or a savepoint when nested.

    On an exception the block's work is rolled back and the exception propagates; otherwise
    it is committed (or the savepoint released). If the engine aborted the transaction in
    the meantime, the block raises :class:`~tinyorm.TransactionAbortedError` instead.
    """

    __slots__ = ("database", "mode")

    def __init__(self, database: TransactionsMixin, mode: str | None = None) -> None:
        self.database = database
        self.mode = mode

    def __enter__(self) -> Self:
        self.database._enter_atomic(self.mode)
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> Literal[False]:
        self.database._exit_atomic(exc_type is not None)
        return False

    def __call__(self, function: _F) -> _F:
        database, mode = self.database, self.mode

        @functools.wraps(function)
        def atomic_call(*args: Any, **kwargs: Any) -> Any:
            with Atomic(database, mode):
                return function(*args, **kwargs)

        return cast(_F, atomic_call)  # same signature: functools.wraps


class BrokenTransaction:
    """Stands in for this thread's connection once the engine aborted its transaction.

    Every use raises ``TransactionAbortedError`` naming the error that broke the
    transaction. ``connection`` is the real connection (None if it died with it).
    """

    __slots__ = ("connection", "error", "depth")

    def __init__(self, connection: Any, error: BaseException, depth: int) -> None:
        self.connection = connection
        self.error = error
        self.depth = depth  # the block whose rollback recovers the connection (0: outermost)

    def aborted_error(self, refused: str = "statement refused") -> TransactionAbortedError:
        original = self.error
        error = TransactionAbortedError(
            f"{refused}: the database aborted this transaction after {type(original).__name__}: {original}",
            original,
        )
        error.__cause__ = original
        return error

    def cursor(self, *args: Any, **kwargs: Any) -> Any:
        raise self.aborted_error()

    def __getattr__(self, name: str) -> Any:
        raise self.aborted_error()


def is_retryable(database: Any, error: BaseException | None) -> bool:
    """True if running the whole transaction again can succeed and cannot store twice."""
    if isinstance(error, TransactionAbortedError):
        error = error.original
    if isinstance(error, ConcurrencyError):
        return True
    if isinstance(error, ConnectionLostError):
        return not error.commit_outcome_unknown
    return isinstance(error, OperationalError) and database.is_connection_failure(error)


class TransactionsMixin:
    """The transaction half of :class:`~tinyorm.Database` (its thread state is ``_state``)."""

    if TYPE_CHECKING:
        # Provided by Database, which this mixin is part of.
        _state: _ThreadState
        dialect: Dialect

        def execute_sql(self, sql: str, params: Any = None, many: bool = False) -> Any: ...
        def is_connection_failure(self, exc: BaseException) -> bool: ...

    def atomic(self, mode: str | None = None) -> Atomic:
        """A transaction block; nested blocks become savepoints. ``mode`` picks how SQLite
        begins the transaction (``"immediate"``, the default, or ``"deferred"``,
        ``"exclusive"``); other engines take none."""
        return Atomic(self, mode)

    transaction = atomic

    def in_transaction(self) -> bool:
        """True inside an ``atomic()`` block (or a Session's transaction). Nothing runs in
        autocommit there: if the engine aborted the transaction, statements are refused
        until the outermost block ends (see :meth:`transaction_error`)."""
        return bool(self._state.transactions)

    def transaction_error(self) -> BaseException | None:
        """The error that aborted this thread's open transaction, or None if it is sound."""
        conn = self._state.conn
        return conn.error if isinstance(conn, BrokenTransaction) else None

    def _begin_sql(self, mode: str | None = None) -> str:
        if mode is not None:
            raise ValueError(f"{self.dialect.name} transactions take no mode (got {mode!r})")
        return "BEGIN"

    def _enter_atomic(self, mode: str | None = None) -> None:
        stack = self._state.transactions
        if not stack:
            begin = self._begin_sql(mode)
            try:
                self.execute_sql(begin)
            except ConnectionLostError:
                # The connection had died while idle (server restarted, connection
                # killed). Nothing of this transaction ran yet: start it on a new one.
                self.execute_sql(begin)
            stack.append("")
        else:
            name = f"tinyorm_sp{len(stack)}"
            self.execute_sql(f"SAVEPOINT {name}")
            stack.append(name)

    def _exit_atomic(self, failed: bool) -> None:
        state = self._state
        stack = state.transactions
        if not stack:
            return
        name = stack.pop()
        if type(state.conn) is BrokenTransaction:
            self._exit_broken(name, len(stack), failed)
            return
        if name:
            if failed:
                self._quietly(f"ROLLBACK TO SAVEPOINT {name}")
                self._quietly(f"RELEASE SAVEPOINT {name}")
            else:
                try:
                    self.execute_sql(f"RELEASE SAVEPOINT {name}")
                except Exception:
                    self._unwind_failed_exit(f"ROLLBACK TO SAVEPOINT {name}")
                    raise
            return
        if failed:
            self._quietly("ROLLBACK")
            if transaction_listeners:  # events: caches drop what the transaction wrote
                notify_transaction_end(self, False)
            return
        try:
            self.execute_sql("COMMIT")
        except ConnectionLostError as exc:
            # COMMIT was sent; whether the server stored it before the connection went is
            # unknowable here, so this is never retried automatically.
            exc.commit_outcome_unknown = True
            if transaction_listeners:  # a cache must assume it was
                notify_transaction_end(self, True)
            raise
        except Exception:
            self._unwind_failed_exit("ROLLBACK")
            if transaction_listeners:
                notify_transaction_end(self, False)
            raise
        if transaction_listeners:  # events: caches invalidate again once the writes are visible
            notify_transaction_end(self, True)

    def _unwind_failed_exit(self, sql: str) -> None:
        # A RELEASE that broke the transaction leaves the unwinding to the enclosing block.
        if type(self._state.conn) is not BrokenTransaction:
            self._quietly(sql)

    def _exit_broken(self, name: str, depth: int, failed: bool) -> None:
        """End a block whose transaction the engine aborted (the slow path)."""
        state = self._state
        broken = state.conn
        if depth > broken.depth:
            # An inner block of the broken scope: its savepoint no longer means anything.
            if not failed:
                raise broken.aborted_error("block not committed")
            return
        state.conn = broken.connection
        if depth == 0:
            if broken.connection is not None:
                self._quietly("ROLLBACK", expected=True)  # already rolled back by the engine
        else:
            # PostgreSQL: rolling back to the innermost savepoint makes the transaction usable.
            self._quietly(f"ROLLBACK TO SAVEPOINT {name}")
            self._quietly(f"RELEASE SAVEPOINT {name}")
        if not failed:
            raise broken.aborted_error(
                "not committed, nothing of the transaction was stored"
                if depth == 0
                else "savepoint not released, its work is undone"
            )

    def _quietly(self, sql: str, expected: bool = False) -> None:
        """Run an unwinding statement whose failure must not hide the error being raised."""
        if self._state.conn is None:
            return
        try:
            self.execute_sql(sql)
        except TinyORMError as exc:
            if not expected:
                logger.warning("%s failed while unwinding a transaction: %s", sql, exc)

    def _note_transaction_damage(self, error: BaseException, driver_error: BaseException, lost: bool) -> None:
        """Error path, inside a transaction: swap in the stand-in if the engine aborted it."""
        state = self._state
        conn = state.conn
        if conn is None or type(conn) is BrokenTransaction:
            return
        damage: str | None
        if lost:
            damage = WHOLE_TRANSACTION
        else:
            damage = self._transaction_damage(conn, driver_error, error)
        if damage is None:
            return
        depth = 0 if damage == WHOLE_TRANSACTION else len(state.transactions) - 1
        state.conn = BrokenTransaction(None if lost else conn, error, depth)

    def _transaction_damage(self, conn: Any, driver_error: BaseException, error: BaseException) -> str | None:
        """Backends: how much of the open transaction a failed statement took down:
        None (the statement only), WHOLE_TRANSACTION or INNERMOST_BLOCK."""
        return None

    def begin(self) -> None:
        """Start a transaction (a savepoint if one is open); prefer ``with db.atomic():``."""
        self._enter_atomic()

    def commit(self) -> None:
        """Commit the innermost ``begin()`` (release its savepoint when nested)."""
        self._exit_atomic(False)

    def rollback(self) -> None:
        """Roll back the innermost ``begin()`` (to its savepoint when nested)."""
        self._exit_atomic(True)

    # -- retry -----------------------------------------------------------------------------
    @overload
    def retry(
        self,
        fn: Callable[[], _T],
        attempts: int = 5,
        *,
        backoff: float = 0.01,
        max_backoff: float = 1.0,
        on_retry: Callable[[Exception, int], object] | None = None,
    ) -> _T: ...
    @overload
    def retry(
        self,
        fn: None = None,
        attempts: int = 5,
        *,
        backoff: float = 0.01,
        max_backoff: float = 1.0,
        on_retry: Callable[[Exception, int], object] | None = None,
    ) -> Callable[[Callable[_P, _T]], Callable[_P, _T]]: ...
    def retry(
        self,
        fn: Callable[[], _T] | None = None,
        attempts: int = 5,
        *,
        backoff: float = 0.01,
        max_backoff: float = 1.0,
        on_retry: Callable[[Exception, int], object] | None = None,
    ) -> Any:
        """Run ``fn()`` in a fresh outermost ``atomic()``, again on a transient failure.

        ``db.retry(fn)`` runs it now and returns what it returns; ``@db.retry(attempts=5)``
        decorates a function (its arguments are passed through). Re-run on every
        ``ConcurrencyError`` (deadlock, serialization failure, lock timeout,
        ``StaleDataError``) and when the connection was lost before COMMIT, after a
        jittered exponential backoff (``backoff`` doubling per attempt, at most
        ``max_backoff`` seconds). The last attempt's error propagates. ``on_retry(error,
        attempt)`` is called before each new attempt. Refuses (``TinyORMError``) inside an
        open transaction, where the engine has already rolled back what a retry would need.
        """
        if attempts < 1:
            raise ValueError(f"attempts must be at least 1, not {attempts!r}")
        options = (attempts, backoff, max_backoff, on_retry)
        if fn is None:

            def decorate(function: Callable[_P, _T]) -> Callable[_P, _T]:
                @functools.wraps(function)
                def retried(*args: _P.args, **kwargs: _P.kwargs) -> _T:
                    return self._run_with_retries(functools.partial(function, *args, **kwargs), *options)

                return retried

            return decorate
        if not callable(fn):
            raise TypeError(f"retry() takes a function, not {type(fn).__name__}")
        return self._run_with_retries(fn, *options)

    def _run_with_retries(
        self,
        fn: Callable[[], _T],
        attempts: int,
        backoff: float,
        max_backoff: float,
        on_retry: Callable[[Exception, int], object] | None,
    ) -> _T:
        if self.in_transaction():
            raise TinyORMError(
                "retry() cannot run inside an open transaction: a deadlock or lost connection "
                "rolls back the enclosing transaction too; call it outside any atomic() block"
            )
        for attempt in range(1, attempts + 1):
            try:
                with self.atomic():
                    return fn()
            except Exception as exc:
                if attempt == attempts or not is_retryable(self, exc):
                    raise
                if on_retry is not None:
                    on_retry(exc, attempt)
                logger.info(
                    "retrying a transaction (attempt %d of %d) after %s: %s",
                    attempt + 1,
                    attempts,
                    type(exc).__name__,
                    exc,
                )
                # Full jitter: contenders that collided pick different waits.
                time.sleep(random.uniform(0, min(max_backoff, backoff * 2 ** (attempt - 1))))
        raise AssertionError("unreachable")  # pragma: no cover
