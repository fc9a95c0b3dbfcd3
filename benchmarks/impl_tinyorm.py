"""tinyorm, through its public API only (see ``activerecord`` for the shared workloads)."""

from __future__ import annotations

import tinyorm

from .activerecord import ActiveRecordImplementation
from .workloads import CACHED_GET_REPEATS, IDENTITY_GET_REPEATS


class TinyORM(ActiveRecordImplementation):
    name = "tinyorm"
    label = "tinyorm"
    orm = tinyorm

    def __init__(self, engine):
        super().__init__(engine)
        self._session = None
        self._held = None

    def open_database(self, engine):
        return tinyorm.connect(engine.url)

    def load_modify_flush(self, data):
        with tinyorm.Session(self.db) as session:  # commits, with one batched flush
            for tweet in session.query(self.Tweet):
                tweet.likes += 1

    def identity_get(self, data):
        Tweet = self.Tweet
        if self._session is None:  # the untimed warm-up round loads the sample once
            self._session = tinyorm.Session(self.db, expire_on_commit=False)
            self._held = list(self._session.query(Tweet).where(Tweet.id.in_(list(data.pk_sample))))
        get = self._session.get
        for _ in range(IDENTITY_GET_REPEATS):
            for pk in data.pk_sample:
                get(Tweet, pk)

    def cached_get(self, data):
        """Uncached, for comparison with playhouse.cache (impl_cache)."""
        get = self.Tweet.get_by_id
        found = []
        for _ in range(CACHED_GET_REPEATS):
            for pk in data.pk_sample:
                found.append(get(pk))
        return found[: len(data.pk_sample)]

    def close(self):
        if self._session is not None:
            self._session.close()
        super().close()


class TinyORMRouted(TinyORM):
    """tinyorm behind a Router whose replica is a second connection to the same server:
    the cost of routing decisions on the read path, against the unrouted column."""

    name = "tinyorm_routed"
    label = "tinyorm, routed"
    insert_single = insert_bulk = select_tuples = join_objects = compile_join = None
    load_modify_save = load_modify_flush = identity_get = cached_get = None

    def open_database(self, engine):
        return tinyorm.Router(primary=engine.url, replicas=[engine.url])

    def close(self):
        self.db.close_all()
