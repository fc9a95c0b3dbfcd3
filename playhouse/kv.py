"""A dict-like key/value store kept in a table of any tinyorm database."""

import tinyorm
from tinyorm import JSONField, Model

from . import _guard  # noqa: F401 - refuses to load beside peewee's playhouse (see _guard)

_MISSING = object()


class KeyValue:
    """``kv = KeyValue(db, table_name="kv")``; then ``kv["a"] = {"any": "json"}``.

    Keys are strings; values anything JSON can hold. Writes are upserts, so two processes
    setting one key never collide. ``kv.update({...})`` writes many keys in one statement.
    """

    def __init__(self, database, table_name="kv", key_length=255):
        meta = type("Meta", (), {"table_name": table_name, "database": database})
        attributes = {
            "key": tinyorm.CharField(max_length=key_length, primary_key=True),
            "value": JSONField(null=True),
            "Meta": meta,
            "__module__": __name__,
        }
        Entry = type(Model)(f"KeyValue_{table_name}", (Model,), attributes)
        self.model = Entry
        self.database = database
        database.create_tables([Entry], safe=True)

    def _key(self, key):
        if not isinstance(key, str):
            raise TypeError(f"keys are strings, not {type(key).__name__}")
        return key

    def __getitem__(self, key):
        row = self.model.select(self.model.value).where(self.model.key == self._key(key)).tuples().first()
        if row is None:
            raise KeyError(key)
        return row[0]

    def get(self, key, default=None):
        """The value stored under ``key``, or ``default``."""
        try:
            return self[key]
        except KeyError:
            return default

    def __setitem__(self, key, value):
        self.update({key: value})

    def update(self, mapping=(), **kwargs):
        """Store every key of ``mapping`` and ``kwargs`` in one upsert statement."""
        rows = [{"key": self._key(key), "value": value} for key, value in dict(mapping, **kwargs).items()]
        if rows:
            query = self.model.insert_many(rows).on_conflict(
                conflict_target=[self.model.key], preserve=[self.model.value]
            )
            query.execute()

    def __delitem__(self, key):
        if not self.model.delete().where(self.model.key == self._key(key)).execute():
            raise KeyError(key)

    def pop(self, key, default=_MISSING):
        """Remove ``key`` and return its value (or ``default``; KeyError without one), in one transaction."""
        with self.database.atomic():
            try:
                value = self[key]
            except KeyError:
                if default is _MISSING:
                    raise
                return default
            del self[key]
            return value

    def __contains__(self, key):
        return self.model.select().where(self.model.key == self._key(key)).exists()

    def __len__(self):
        return self.model.select().count()

    def keys(self):
        """Every key, sorted."""
        return [key for (key,) in self.model.select(self.model.key).order_by(self.model.key).tuples()]

    def values(self):
        """Every value, in key order."""
        return [value for (value,) in self.model.select(self.model.value).order_by(self.model.key).tuples()]

    def items(self):
        """Every ``(key, value)`` pair, in key order."""
        return list(self.model.select(self.model.key, self.model.value).order_by(self.model.key).tuples())

    def __iter__(self):
        return iter(self.keys())

    def clear(self):
        """Remove every key."""
        self.model.delete().execute()


__all__ = ["KeyValue"]
