"""SQLAlchemy 2.x ORM, written the way its 2.0-style documentation teaches.

One ``Engine`` (with its default connection pool) per database; a ``Session`` per unit of
work, so every read builds fresh objects instead of finding them in an identity map left
over from an earlier run.
"""

from __future__ import annotations

from sqlalchemy import ForeignKey, String, create_engine, insert, select
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    contains_eager,
    mapped_column,
    relationship,
)

from .base import Implementation
from .engines import ENTRIES, TWEETS, USERS
from .workloads import IDENTITY_GET_REPEATS


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = USERS
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    email: Mapped[str] = mapped_column(String(100))
    age: Mapped[int]


class Tweet(Base):
    __tablename__ = TWEETS
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey(f"{USERS}.id"))
    content: Mapped[str] = mapped_column(String(200))
    likes: Mapped[int]
    user: Mapped[User] = relationship()


class Entry(Base):
    __tablename__ = ENTRIES
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    email: Mapped[str] = mapped_column(String(100))
    age: Mapped[int]


TWEET_COLUMNS = (Tweet.id, Tweet.user_id, Tweet.content, Tweet.likes)


class SQLAlchemyORM(Implementation):
    name = "sqlalchemy"
    label = "SQLAlchemy"

    def __init__(self, engine):
        super().__init__(engine)
        self.sa_engine = create_engine(engine.sqlalchemy_url())

    def close(self):
        if getattr(self, "_identity_session", None) is not None:
            self._identity_session.close()
        self.sa_engine.dispose()

    def session(self):
        return Session(self.sa_engine)

    def insert_single(self, data):
        # One INSERT per object: add it and flush. (add_all + commit would batch them.)
        with self.session() as session:
            add, flush = session.add, session.flush
            for row in data.entries:
                add(Entry(**row))
                flush()
            session.commit()

    def insert_bulk(self, data):
        # "ORM Bulk INSERT Statements": insert(Entity) with a list of dicts.
        with self.session() as session:
            session.execute(insert(Entry), data.entries)
            session.commit()

    def load_modify_save(self, data):
        with self.session() as session:
            for tweet in session.scalars(select(Tweet)).all():
                tweet.likes += 1
            session.commit()

    def identity_get(self, data):
        if getattr(self, "_identity_session", None) is None:  # loaded in the warm-up round
            self._identity_session = self.session()
            self._held = self._identity_session.scalars(select(Tweet).where(Tweet.id.in_(data.pk_sample))).all()
        get = self._identity_session.get
        for _ in range(IDENTITY_GET_REPEATS):
            for pk in data.pk_sample:
                get(Tweet, pk)

    def select_objects(self, data):
        with self.session() as session:
            return session.scalars(select(Tweet)).all()

    def select_tuples(self, data):
        with self.session() as session:
            return session.execute(select(*TWEET_COLUMNS)).all()

    def join_objects(self, data):
        # contains_eager fills tweet.user from the joined columns of the same row.
        query = select(Tweet).join(Tweet.user).where(User.age < data.join_max_age).options(contains_eager(Tweet.user))
        with self.session() as session:
            return session.scalars(query).all()

    def get_by_pk(self, data):
        # Empty the identity map after each get, or a repeated key would cost no query.
        tweets = []
        with self.session() as session:
            get, expunge_all = session.get, session.expunge_all
            for pk in data.pk_sample:
                tweets.append(get(Tweet, pk))
                expunge_all()
        return tweets

    def compile_join(self, data):
        dialect = self.sa_engine.dialect
        result = None
        for min_age, min_likes, name in data.compile_args:
            query = (
                select(Tweet, User)
                .join(Tweet.user)
                .where(User.age >= min_age, Tweet.likes > min_likes, User.name != name)
                .order_by(Tweet.id.desc())
                .limit(20)
            )
            compiled = query.compile(dialect=dialect)
            result = compiled.string, compiled.params  # SQL text and parameters, like .sql()
        return result
