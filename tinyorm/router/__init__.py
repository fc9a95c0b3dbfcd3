"""The Router: primary, replicas and vertical partitions behind one ``Meta.database``.

Default rules (each overridable in a subclass through ``db_for_read``, ``db_for_write`` and
``allow_migrate``):

* writes (INSERT/UPDATE/DELETE, bulk or not, upserts, DDL) go to the primary of the model's
  partition;
* reads go to a replica, round-robin, except inside a transaction on that primary, for
  ``SELECT ... FOR UPDATE``, inside ``with router.use_primary():`` and when read-your-writes
  needs it;
* read-your-writes follows the replication position: after this scope writes, a read goes
  to a replica only once it has replayed that write (PostgreSQL WAL LSN, MySQL/MariaDB
  GTID set); the first read waits up to ``replica_wait`` seconds for one, else reads the
  primary. Engines with no position (SQLite files as stand-ins) pin reads to the primary
  for ``pin_window`` seconds after a write;
* a replica that cannot be reached is marked down for ``down_backoff`` seconds and the read
  runs on another replica that has what the read needs, then on the primary; a replica
  lagging more than ``max_replica_lag`` seconds (or with replication stopped) leaves the
  rotation until it catches up.

Routing state (pins, positions to read past) belongs to a scope: a thread, an asyncio task,
or a ``with router.request():`` block, which starts clean.

The package's parts: ``core`` (the Router and its rules), ``selection`` (choosing a replica,
probes, health, failover), ``scope`` (per-request state in contextvars), ``tokens``
(position tokens, signed with ``token_secret``), ``counters`` (reads counted per thread,
so the common read takes no lock).
"""

from .core import DEFAULT, ReplicaSet, Router

__all__ = ["Router", "ReplicaSet", "DEFAULT"]
