"""The floor: the DB-API driver itself (sqlite3, psycopg2, pymysql) running the same SQL.

Plain DB-API usage: the connection's default transaction handling, ``commit()`` at the end of
each unit of work (reads included, so no connection sits idle in a transaction), rows left as
the driver's tuples from ``fetchall()``. Batches use the driver's fastest documented form:
``executemany`` for sqlite3 and pymysql (which folds an INSERT into multi-row statements), and
psycopg2's ``execute_values``/``execute_batch`` helpers, since psycopg2's own ``executemany``
sends one statement per row.
"""

from __future__ import annotations

from .base import Implementation
from .engines import ENTRIES, TWEETS, USERS

TWEET_COLUMNS = "id, user_id, content, likes"
PAGE_SIZE = 1000  # rows per statement for psycopg2's batch helpers


class RawDriver(Implementation):
    name = "raw"
    label = "raw driver"
    compile_join = None  # nothing to build: the SQL is a constant string

    @classmethod
    def open(cls, engine):
        return PostgresRawDriver(engine) if engine.name == "postgresql" else cls(engine)

    def __init__(self, engine):
        super().__init__(engine)
        self.conn = engine.connect_raw()
        mark = engine.placeholder
        self.insert_sql = f"INSERT INTO {ENTRIES} (name, email, age) VALUES ({mark}, {mark}, {mark})"
        self.insert_returning_sql = self.insert_sql
        self.update_sql = f"UPDATE {TWEETS} SET likes = {mark} WHERE id = {mark}"
        self.select_sql = f"SELECT {TWEET_COLUMNS} FROM {TWEETS}"
        self.get_sql = f"SELECT {TWEET_COLUMNS} FROM {TWEETS} WHERE id = {mark}"
        self.join_sql = (
            f"SELECT t.id, t.user_id, t.content, t.likes, u.id, u.name, u.email, u.age "
            f"FROM {TWEETS} t INNER JOIN {USERS} u ON t.user_id = u.id WHERE u.age < {mark}"
        )

    def close(self):
        self.conn.close()

    def _fetchall(self, sql, params=()):
        cursor = self.conn.cursor()
        cursor.execute(sql, params)
        rows = cursor.fetchall()
        self.conn.commit()
        return rows

    def _insert_many(self, cursor, rows):
        cursor.executemany(self.insert_sql, rows)

    def _update_many(self, cursor, rows):
        cursor.executemany(self.update_sql, rows)

    def _new_id(self, cursor):
        return cursor.lastrowid

    def insert_single(self, data):
        # Like an ORM's create(), learn each new row's key: the application needs it.
        cursor = self.conn.cursor()
        execute, new_id, sql = cursor.execute, self._new_id, self.insert_returning_sql
        ids = []
        for row in data.entry_tuples:
            execute(sql, row)
            ids.append(new_id(cursor))
        self.conn.commit()
        return ids

    def insert_bulk(self, data):
        self._insert_many(self.conn.cursor(), data.entry_tuples)
        self.conn.commit()

    def load_modify_save(self, data):
        cursor = self.conn.cursor()
        cursor.execute(f"SELECT id, likes FROM {TWEETS}")
        self._update_many(cursor, [(likes + 1, pk) for pk, likes in cursor.fetchall()])
        self.conn.commit()

    def select_objects(self, data):
        return self._fetchall(self.select_sql)

    select_tuples = select_objects

    def join_objects(self, data):
        return self._fetchall(self.join_sql, (data.join_max_age,))

    def get_by_pk(self, data):
        cursor = self.conn.cursor()
        execute, fetchone, sql = cursor.execute, cursor.fetchone, self.get_sql
        rows = []
        for pk in data.pk_sample:
            execute(sql, (pk,))
            rows.append(fetchone())
        self.conn.commit()
        return rows


class PostgresRawDriver(RawDriver):
    """psycopg2's ``executemany`` is a loop of single statements; its helpers batch. Its
    ``lastrowid`` is an OID, not the key, so new keys come back through ``RETURNING``."""

    def __init__(self, engine):
        super().__init__(engine)
        self.insert_values_sql = f"INSERT INTO {ENTRIES} (name, email, age) VALUES %s"
        self.insert_returning_sql = self.insert_sql + " RETURNING id"

    def _new_id(self, cursor):
        return cursor.fetchone()[0]

    def _insert_many(self, cursor, rows):
        from psycopg2.extras import execute_values

        execute_values(cursor, self.insert_values_sql, rows, page_size=PAGE_SIZE)

    def _update_many(self, cursor, rows):
        from psycopg2.extras import execute_batch

        execute_batch(cursor, self.update_sql, rows, page_size=PAGE_SIZE)
