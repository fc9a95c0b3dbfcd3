"""Connections: one per thread, optionally pooled, and how they survive failures.

* A connection taken from the pool is checked first: always with a look at its socket (no
  round trip: an idle connection whose server closed it, or sent a termination notice, has
  something to read), and with a real ping once it has been idle ``ping_interval`` seconds.
* A connection found dead means its server may have restarted: every idle connection of
  the pool is closed, and connections of that generation that are still checked out are
  closed when they come back.
* A connection comes back rolled back: a transaction left open (even a raw ``BEGIN``) is
  never inherited by the next user.
* A thread that ends without ``close()`` gives its connection back: the lease it holds is
  finalized with the thread's local state, and the connection is closed (the server rolls
  back whatever it had open), freeing its slot.
"""

from __future__ import annotations

import select
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any

from ..exceptions import ConnectionLostError, ImproperlyConfigured, InterfaceError, OperationalError
from ..log import pool_logger, scrub
from .transactions import BrokenTransaction

if TYPE_CHECKING:
    from ..dialects.base import Dialect
    from ..exceptions import TinyORMError


class _ThreadState(threading.local):
    def __init__(self) -> None:
        # A DB-API connection, or the BrokenTransaction standing in for it.
        self.conn: Any = None
        self.transactions: list[str] = []  # savepoint names; "" marks the outer transaction
        self.lease: _Lease | None = None  # finalized with this thread's locals: gives the connection back


class _Lease:
    """Held in a thread's local state while it has a connection checked out."""

    __slots__ = ("__weakref__", "finalizer")

    finalizer: weakref.finalize[..., _Lease]


def _return_from_ended_thread(database_ref: weakref.ref[ConnectionsMixin], conn: Any) -> None:
    database = database_ref()
    if database is not None:
        database._reclaim(conn)


def socket_readable(fileno: int) -> bool:
    """True if an idle connection's socket has something to read (EOF or a notice): dead."""
    if fileno < 0:  # closed on our side
        return True
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(fileno, select.POLLIN | select.POLLERR | select.POLLHUP)
        return bool(poller.poll(0))
    readable, _, _ = select.select([fileno], [], [], 0)  # pragma: no cover - no poll() here
    return bool(readable)


class ConnectionsMixin:
    """The connection half of :class:`~tinyorm.Database`."""

    if TYPE_CHECKING:
        # Provided by Database, which this mixin is part of.
        dialect: Dialect
        connect_params: dict[str, Any]
        autoconnect: bool
        _server_checked: bool

        def _connect_driver(self) -> Any: ...
        def _driver_error_class(self) -> type[Exception] | tuple[type[Exception], ...]: ...
        def _initialize_connection(self, conn: Any) -> None: ...
        def _check_server(self, conn: Any) -> None: ...
        def _error_class_for(self, exc: BaseException) -> type[TinyORMError]: ...
        def _describe_target(self) -> str: ...

    def _init_connections(
        self,
        max_connections: int | str | None,
        stale_timeout: float | str | None,
        pool_timeout: float | str,
        ping_interval: float | str,
    ) -> None:
        self.max_connections = int(max_connections) if max_connections else None
        self.stale_timeout = float(stale_timeout) if stale_timeout else None
        self.pool_timeout = float(pool_timeout)
        self.ping_interval = float(ping_interval)
        self._pooled = self.max_connections is not None or self.stale_timeout is not None
        self._state = _ThreadState()
        self._lock = threading.Condition()
        self._idle: list[tuple[float, Any]] = []  # pooled connections: (returned_at, conn)
        # id(conn) -> (conn, generation) for every connection this db opened
        self._open: dict[int, tuple[Any, int]] = {}
        self._generation = 0  # bumped whenever the server was found dead

    # -- driver hooks (subclasses) ---------------------------------------------------------
    def _connection_fileno(self, conn: Any) -> int | None:
        """The socket of a server connection, -1 once closed (None for embedded engines)."""
        return None

    def _ping(self, conn: Any) -> None:
        """One cheap round trip; raises the driver's error if the connection is dead."""

    def _has_open_transaction(self, conn: Any) -> bool:
        """Whether the driver knows a transaction is open on ``conn`` (no round trip)."""
        return False

    # -- opening and checking out ----------------------------------------------------------
    def _new_connection(self) -> Any:
        try:
            conn = self._connect_driver()
        except TypeError as exc:
            raise ImproperlyConfigured(f"bad connection option for {self.dialect.name}: {exc}") from exc
        except self._driver_error_class() as exc:
            reason = scrub(str(exc), self.connect_params.get("password"))
            raise OperationalError(
                f"cannot connect to {self.dialect.name} at {self._describe_target()}: {reason}"
            ) from exc
        try:
            self._initialize_connection(conn)
            if not self._server_checked:
                self._check_server(conn)
                self._server_checked = True
        except self._driver_error_class() as exc:
            conn.close()
            raise self._error_class_for(exc)(scrub(str(exc), self.connect_params.get("password"))) from exc
        with self._lock:
            self._open[id(conn)] = (conn, self._generation)
            opened = len(self._open)
        pool_logger.debug("opened a connection to %s (%d open)", self._describe_target(), opened)
        return conn

    def _checkout(self) -> Any:
        if self._pooled:
            conn = self._take_idle()
        else:
            conn = None
        if conn is None:
            conn = self._new_connection()
        self._end_lease()
        lease = _Lease()
        lease.finalizer = weakref.finalize(lease, _return_from_ended_thread, weakref.ref(self), conn)
        self._state.lease = lease
        return conn

    def _take_idle(self) -> Any:
        """An idle pooled connection that is still alive, or None to open a new one."""
        deadline = time.monotonic() + self.pool_timeout
        with self._lock:
            while True:
                now = time.monotonic()
                while self._idle:
                    returned_at, conn = self._idle.pop()
                    if self.stale_timeout and now - returned_at > self.stale_timeout:
                        pool_logger.debug("closed a connection to %s idle past stale_timeout", self._describe_target())
                        self._close_physically(conn)
                    elif self._usable(conn, now - returned_at):
                        return conn
                if self.max_connections is None or len(self._open) < self.max_connections:
                    return None
                remaining = deadline - now
                if remaining <= 0:
                    pool_logger.warning(
                        "pool for %s exhausted: %d connections in use for %gs",
                        self._describe_target(),
                        self.max_connections,
                        self.pool_timeout,
                    )
                    raise OperationalError(
                        f"connection pool exhausted: {self.max_connections} connections in use "
                        f"for {self.pool_timeout:g}s"
                    )
                self._lock.wait(remaining)

    def _usable(self, conn: Any, idle_for: float) -> bool:
        """Called with the lock held: check an idle connection before handing it out."""
        fileno = self._connection_fileno(conn)
        alive = fileno is None or not socket_readable(fileno)
        if alive and idle_for >= self.ping_interval:
            try:
                self._ping(conn)
            except Exception:  # any failure of the ping means the connection is unusable
                alive = False
        if not alive:
            self._close_physically(conn)
            self._server_found_dead()
        return alive

    def _server_found_dead(self) -> None:
        """Called with the lock held: the server restarted or dropped us; no idle
        connection of it can be trusted, and busy ones are closed when they come back."""
        self._generation += 1
        pool_logger.warning(
            "the server at %s was found dead: closing %d idle pooled connection(s)",
            self._describe_target(),
            len(self._idle),
        )
        for _returned_at, conn in self._idle:
            self._close_physically(conn)
        self._idle.clear()
        self._lock.notify_all()

    def _close_physically(self, conn: Any) -> None:
        self._open.pop(id(conn), None)
        try:
            conn.close()
        except Exception:  # a broken connection may fail to close; it is gone either way
            pass

    def _reclaim(self, conn: Any) -> None:
        """A thread ended holding ``conn``: close it (the server rolls back) and free its slot."""
        with self._lock:
            entry = self._open.get(id(conn))
            if entry is not None and entry[0] is conn:
                self._close_physically(conn)
                self._lock.notify()

    # -- the public connection API ---------------------------------------------------------
    def connect(self, reuse_if_open: bool = True) -> bool:
        """Open this thread's connection now. Returns True if a new one was opened."""
        state = self._state
        if state.conn is not None:
            if reuse_if_open:
                return False
            raise OperationalError("this thread's connection is already open")
        state.conn = self._checkout()
        return True

    def connection(self) -> Any:
        """This thread's DB-API connection, opened if needed."""
        conn = self._state.conn
        if conn is None:
            if not self.autoconnect:
                raise InterfaceError("database is closed and autoconnect is off")
            conn = self._state.conn = self._checkout()
        return conn

    def is_closed(self) -> bool:
        """True if this thread has no open connection."""
        return self._state.conn is None

    def close(self) -> bool:
        """Close this thread's connection (or return it to the pool). Returns True if one was open."""
        state = self._state
        conn = state.conn
        if conn is None:
            return False
        if state.transactions:
            raise OperationalError("cannot close a connection inside an open transaction")
        state.conn = None
        self._end_lease()
        if self._pooled and self._reset_for_reuse(conn):
            with self._lock:
                if id(conn) in self._open and self._open[id(conn)][1] == self._generation:
                    self._idle.append((time.monotonic(), conn))
                else:
                    self._close_physically(conn)
                self._lock.notify()
        else:
            with self._lock:
                self._close_physically(conn)
                self._lock.notify()
        return True

    def _end_lease(self) -> None:
        lease = self._state.lease
        if lease is not None:
            lease.finalizer.detach()
            self._state.lease = None

    def _reset_for_reuse(self, conn: Any) -> bool:
        """Roll back a transaction left open outside tinyorm (a raw BEGIN). False: unusable."""
        if not self._has_open_transaction(conn):
            return True
        try:
            conn.cursor().execute("ROLLBACK")
        except Exception:  # the connection cannot be cleaned: it is closed instead
            return False
        return True

    def close_all(self) -> None:
        """Close every connection this database opened, in every thread."""
        with self._lock:
            for conn, _generation in list(self._open.values()):
                self._close_physically(conn)
            self._idle.clear()
            self._lock.notify_all()
        self._end_lease()
        self._state = _ThreadState()

    def _discard_connection(self, error: BaseException | None = None) -> None:
        """Throw this thread's connection away (dead, or in an unknown state after an
        interrupt). Inside a transaction the transaction is lost with it: its blocks end
        with ``TransactionAbortedError`` and the next transaction gets a new connection."""
        state = self._state
        conn = state.conn
        if type(conn) is BrokenTransaction:
            real, conn.connection = conn.connection, None
        else:
            real = conn
            if state.transactions:
                if error is None:
                    error = ConnectionLostError("the connection was discarded inside the transaction")
                state.conn = BrokenTransaction(None, error, 0)
            else:
                state.conn = None
        if real is not None:
            pool_logger.warning(
                "discarded the connection to %s (lost, or unusable after an error)", self._describe_target()
            )
            self._end_lease()
            with self._lock:
                self._close_physically(real)
                self._lock.notify()

    def _connection_lost(self, error: BaseException | None = None) -> None:
        """This thread's connection died: discard it and distrust the pool's idle ones."""
        self._discard_connection(error)
        if self._pooled:
            with self._lock:
                self._server_found_dead()

    def _reset_after_fork(self) -> None:
        self._state = _ThreadState()
        self._lock = threading.Condition()
        self._idle = []
        self._open = {}
