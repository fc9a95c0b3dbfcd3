"""peewee, used as its documentation teaches (see ``activerecord`` for the shared workloads).

Bulk inserts follow peewee's "Bulk inserts" guide: ``insert_many(batch).execute()`` inside
``db.atomic()``, with the rows split by ``peewee.chunked`` because peewee sends one statement
per call and leaves the engine's parameter limits to the caller.
"""

from __future__ import annotations

import peewee

from .activerecord import ActiveRecordImplementation

BATCH_ROWS = 100  # the guide's batch size; 100 to 10,000 measured within noise of each other


class Peewee(ActiveRecordImplementation):
    name = "peewee"
    label = "peewee"
    orm = peewee

    def open_database(self, engine):
        if engine.name == "sqlite":
            return peewee.SqliteDatabase(engine.path)
        params = engine.connect_params()
        server = {k: v for k, v in params.items() if k != "database" and v}
        if engine.name == "postgresql":
            return peewee.PostgresqlDatabase(params["database"], **server)
        return peewee.MySQLDatabase(params["database"], charset="utf8mb4", **server)

    def insert_bulk(self, data):
        with self.db.atomic():
            for batch in peewee.chunked(data.entries, BATCH_ROWS):
                self.Entry.insert_many(batch).execute()
