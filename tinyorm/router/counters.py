"""Read counts per replica, kept per thread so the read fast path takes no shared lock.

Every read the router sends to a replica is counted (``stats()["reads"]``). A shared
counter needs a lock to lose no update between threads, and taking one costs about as much
as the rest of the routing decision. Here each thread adds to a list of its own (only that
thread writes it, so no update is lost, with or without the GIL), and :meth:`totals` sums
the lists under the router's lock. When a thread registers, the lists of threads that have
ended are folded into one total and dropped, so what is held is bounded by the threads
alive at once.
"""

from __future__ import annotations

import threading


class _Counts(threading.local):
    # The calling thread's list of counts, one per replica slot (None until its first read).
    counts: list[int] | None = None


class ReadCounts:
    """Reads per replica slot; the caller passes the lock that guards its other counters."""

    def __init__(self, slots: int, lock: threading.Lock) -> None:
        self._slots = slots
        self._lock = lock
        self.local = _Counts()  # the read path reads ``local.counts`` directly (speed)
        # (thread, its counts, its counts at the last reset) for each thread that has read
        self._threads: list[tuple[threading.Thread, list[int], list[int]]] = []
        self._ended = [0] * slots  # what threads that have ended counted since the last reset

    def register(self) -> list[int]:
        """The calling thread's counts, created on its first read."""
        counts = [0] * self._slots
        with self._lock:
            self._fold_ended()
            self._threads.append((threading.current_thread(), counts, [0] * self._slots))
        self.local.counts = counts
        return counts

    def _fold_ended(self) -> None:
        alive = []
        for thread, counts, base in self._threads:
            if thread.is_alive():
                alive.append((thread, counts, base))
            else:  # it counts no more: its last values are final
                for slot in range(self._slots):
                    self._ended[slot] += counts[slot] - base[slot]
        self._threads = alive

    def totals(self) -> list[int]:
        """Reads per slot since the last reset (call with the lock held)."""
        totals = list(self._ended)
        for _thread, counts, base in self._threads:
            for slot in range(self._slots):
                totals[slot] += counts[slot] - base[slot]
        return totals

    def reset(self) -> None:
        """Start again from zero (call with the lock held). Other threads' lists are only
        read here, never written: their values now become the base they count from."""
        self._ended = [0] * self._slots
        self._threads = [(thread, counts, list(counts)) for thread, counts, _base in self._threads]
