"""What every implementation (raw driver, tinyorm, peewee, SQLAlchemy) provides.

Each method does one workload once, against its own connection, and returns what it built
(objects, rows) so that the runner can check the size and the memory measurement can hold
it. A method an implementation cannot take part in is left as ``None``.
"""

from __future__ import annotations


class Implementation:
    name = ""  # key in the results
    label = ""  # column heading

    @classmethod
    def open(cls, engine):
        """Connect to ``engine`` (subclasses may pick an engine-specific variant)."""
        return cls(engine)

    def __init__(self, engine):
        self.engine = engine

    def close(self):
        """Release the implementation's connections."""

    # Writes. The inserts target the entries table, which the runner empties before each run.
    def insert_single(self, data):
        """Insert ``data.entries`` one statement per row, in one transaction."""
        raise NotImplementedError

    def insert_bulk(self, data):
        """Insert ``data.entries`` as a batch, in one transaction."""
        raise NotImplementedError

    def load_modify_save(self, data):
        """Load every tweet, add one to ``likes``, persist the changes in one transaction."""
        raise NotImplementedError

    def load_modify_flush(self, data):
        """The same change through the library's unit of work (a session), if it has one."""
        return self.load_modify_save(data)

    # A session's identity map: ``None`` for libraries without one (and the raw driver).
    identity_get = None
    # playhouse.cache (impl_cache); tinyorm runs it uncached for comparison.
    cached_get = None

    # Reads.
    def select_objects(self, data):
        """Every tweet as a model object (the raw driver: its row tuples)."""
        raise NotImplementedError

    def select_tuples(self, data):
        """Every tweet as a tuple of its column values."""
        raise NotImplementedError

    def join_objects(self, data):
        """Tweets joined to their users, filtered on the user, both sides hydrated."""
        raise NotImplementedError

    def get_by_pk(self, data):
        """Fetch the tweet for each key in ``data.pk_sample``, one query each."""
        raise NotImplementedError

    # Query building only (no execution): ``None`` where there is nothing to build.
    def compile_join(self, data):
        """Build and compile the join query once per entry of ``data.compile_args``."""
        raise NotImplementedError
