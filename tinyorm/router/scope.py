"""Routing state per scope: a thread, an asyncio task, or a ``with router.request():`` block.

The state lives in a ContextVar, so each thread starts with its own, tasks see the state of
the scope that created them, and ``router.request()`` installs a clean one for its block (a
pooled thread serving the next request starts from nothing).
"""

from __future__ import annotations

import contextvars
import itertools
from typing import Any

_ROUTER_IDS = itertools.count()


class Required:
    """A position (or time) a read must be past, and what is known about it."""

    __slots__ = ("kind", "value", "key", "since", "covered", "waited")

    def __init__(self, kind: str, value: Any, key: Any = None, since: float = 0.0) -> None:
        self.kind = kind  # "position" or "time"
        # the position text (kind "position"), or the monotonic deadline of a time pin
        self.value = value
        self.key = key  # the position's comparable form (an engine's position_sort_key)
        self.since = since  # monotonic time of the write it stands for
        self.covered: set[str] = set()  # replica names known to have replayed it
        self.waited = False  # one wait per requirement: after it fails, no more waiting

    def __repr__(self) -> str:
        return f"<Required {self.kind} {self.value!r}>"


class RoutingState:
    __slots__ = ("use_primary", "using", "required", "unconfirmed", "probing", "wrote")

    def __init__(self) -> None:
        self.use_primary = 0
        self.using: list[tuple[str, bool]] = []  # [(database name, writes allowed)]
        self.required: dict[str, Required] = {}  # replica set name -> Required
        # replica set name -> when its latest unconfirmed write committed (None: inside a
        # transaction, so the commit is later; the first read after it stands in)
        self.unconfirmed: dict[str, float | None] = {}
        self.probing = False  # a router's own check of a replica: failures surface, no failover
        self.wrote = False  # this scope sent a write (the middleware's cookie follows it)


class Scope:
    """One router's per-scope state."""

    def __init__(self) -> None:
        self._var: contextvars.ContextVar[RoutingState | None] = contextvars.ContextVar(
            f"tinyorm_router_{next(_ROUTER_IDS)}", default=None
        )

    def get(self) -> RoutingState:
        state = self._var.get()
        if state is None:
            state = RoutingState()
            self._var.set(state)
        return state

    def enter(self) -> RoutingState | None:
        """Install a clean state; returns what :meth:`leave` puts back."""
        previous = self._var.get()
        self._var.set(RoutingState())
        return previous

    def leave(self, previous: RoutingState | None) -> None:
        # set(), not reset(token): an ASGI server may finish a request's coroutine in a
        # copy of the context it started in, where the token is not valid.
        self._var.set(previous)
