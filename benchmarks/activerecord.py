"""The workloads written once for the two active-record APIs, tinyorm's and peewee's.

tinyorm's public API follows peewee's (models bound to a database, ``Model.create``,
``insert_many(...).execute()``, ``select(A, B).join(B)``, ``get_by_id``, ``save()`` inside
``db.atomic()``, ``query.sql()``), so the same code drives both: what differs — the library,
how to open its database, peewee's batching — is in ``impl_tinyorm`` and ``impl_peewee``.
"""

from __future__ import annotations

from .base import Implementation
from .engines import ENTRIES, TWEETS, USERS


def define_models(orm, db):
    """The benchmark schema as models of ``orm`` (the ``tinyorm`` or ``peewee`` module)."""

    class Base(orm.Model):
        class Meta:
            database = db

    class User(Base):
        name = orm.CharField(max_length=50)
        email = orm.CharField(max_length=100)
        age = orm.IntegerField()

        class Meta:
            table_name = USERS

    class Tweet(Base):
        user = orm.ForeignKeyField(User, backref="tweets")
        content = orm.CharField(max_length=200)
        likes = orm.IntegerField()

        class Meta:
            table_name = TWEETS

    class Entry(Base):
        name = orm.CharField(max_length=50)
        email = orm.CharField(max_length=100)
        age = orm.IntegerField()

        class Meta:
            table_name = ENTRIES

    return User, Tweet, Entry


class ActiveRecordImplementation(Implementation):
    orm = None  # the library module

    def __init__(self, engine):
        super().__init__(engine)
        self.db = self.open_database(engine)
        self.User, self.Tweet, self.Entry = define_models(self.orm, self.db)

    def open_database(self, engine):
        raise NotImplementedError

    def close(self):
        self.db.close()

    def insert_single(self, data):
        create = self.Entry.create
        with self.db.atomic():
            for row in data.entries:
                create(**row)

    def insert_bulk(self, data):
        with self.db.atomic():
            self.Entry.insert_many(data.entries).execute()

    def load_modify_save(self, data):
        with self.db.atomic():
            for tweet in self.Tweet.select():
                tweet.likes += 1
                tweet.save()

    def select_objects(self, data):
        return list(self.Tweet.select())

    def select_tuples(self, data):
        return list(self.Tweet.select().tuples())

    def join_objects(self, data):
        Tweet, User = self.Tweet, self.User
        return list(Tweet.select(Tweet, User).join(User).where(User.age < data.join_max_age))

    def get_by_pk(self, data):
        get = self.Tweet.get_by_id
        return [get(pk) for pk in data.pk_sample]

    def compile_join(self, data):
        Tweet, User = self.Tweet, self.User
        result = None
        for min_age, min_likes, name in data.compile_args:
            result = (
                Tweet.select(Tweet, User)
                .join(User)
                .where((User.age >= min_age) & (Tweet.likes > min_likes) & (User.name != name))
                .order_by(Tweet.id.desc())
                .limit(20)
                .sql()
            )
        return result
