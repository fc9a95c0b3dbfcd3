"""tinyorm quickstart: define models, create tables, write, query and print the results.

Runs on SQLite in a temporary directory that is removed at the end, so it leaves nothing
behind. Run it with ``python examples/quickstart.py`` (``make demo`` does).
"""

import datetime
import decimal
import os
import shutil
import tempfile

import tinyorm
from tinyorm import (
    JOIN,
    BooleanField,
    CharField,
    DateTimeField,
    DecimalField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
    fn,
    prefetch,
)

directory = tempfile.mkdtemp(prefix="tinyorm-quickstart-")
db = tinyorm.connect("sqlite:///" + os.path.join(directory, "blog.db"))


class Base(Model):
    class Meta:
        database = db


class User(Base):
    username = CharField(max_length=50, unique=True)
    email = CharField(null=True)
    joined = DateTimeField(default=datetime.datetime(2024, 1, 1, 9, 0))


class Post(Base):
    author = ForeignKeyField(User, backref="posts", on_delete="CASCADE")
    title = CharField(max_length=120)
    body = TextField()
    published = BooleanField(default=False)
    likes = IntegerField(default=0)


class Tip(Base):
    post = ForeignKeyField(Post, backref="tips", on_delete="CASCADE")
    amount = DecimalField(max_digits=8, decimal_places=2)


def heading(text):
    print()
    print(text)
    print("-" * len(text))


def main():
    db.create_tables([User, Post, Tip])
    heading("Tables")
    for table in db.get_tables():
        columns = ", ".join(column.name for column in db.get_columns(table))
        print(f"{table}: {columns}")

    # -- write ------------------------------------------------------------------------------
    with db.atomic():
        alice = User.create(username="alice", email="alice@example.com")
        bob = User.create(username="bob")
        User.create(username="carol", email="carol@example.com")
        hello = Post.create(author=alice, title="Hello", body="Hello, world!", published=True, likes=12)
        Post.create(author=alice, title="Drafts", body="Work in progress", likes=0)
        Post.create(author=bob, title="SQL is 50% fun", body="...and 50% joins.", published=True, likes=7)
        Tip.insert_many(
            [
                {"post": hello, "amount": decimal.Decimal("2.50")},
                {"post": hello, "amount": "0.99"},
            ]
        ).execute()

    bob.email = "bob@example.com"
    bob.save()  # only the changed column is written

    heading("Users")
    for user in User.select().order_by(User.username):
        print(f"{user.id}  {user.username:<6} {user.email}")

    # -- query ------------------------------------------------------------------------------
    heading("Published posts with their authors (one query)")
    query = (
        Post.select(Post, User)
        .join(User)
        .where(Post.published == True)  # builds SQL: == on a field is not a Python comparison
        .order_by(Post.likes.desc())
    )
    for post in query:
        print(f"{post.title!r} by {post.author.username} ({post.likes} likes)")

    heading("Posts per user")
    per_user = (
        User.select(User.username, fn.COUNT(Post.id).alias("posts"), fn.COALESCE(fn.SUM(Post.likes), 0).alias("likes"))
        .join(Post, JOIN.LEFT_OUTER)
        .group_by(User.username)
        .order_by(User.username)
    )
    for row in per_user.namedtuples():
        print(f"{row.username:<6} posts={row.posts} likes={row.likes}")

    heading("Django-style lookups")
    print("posts mentioning '50%':", [post.title for post in Post.filter(title__contains="50%")])
    print("authors of liked posts:", sorted(user.username for user in User.filter(posts__likes__gte=10)))

    heading("Prefetch: users with their posts (two queries)")
    for user in prefetch(User.select().order_by(User.username), Post.select().order_by(Post.id)):
        titles = ", ".join(post.title for post in user.posts) or "(no posts)"
        print(f"{user.username}: {titles}")

    heading("Exact decimals")
    tips = [tip.amount for tip in hello.tips]
    print("tips on 'Hello':", ", ".join(str(amount) for amount in tips), "total", sum(tips))

    # -- update, delete, transactions ---------------------------------------------------------
    heading("Update, delete and roll back")
    matched = Post.update(likes=Post.likes + 1).where(Post.published == True).execute()
    print("posts liked once more:", matched)
    try:
        with db.atomic():
            User.create(username="dave")
            User.create(username="alice")  # username is unique: the whole block rolls back
    except tinyorm.IntegrityError as error:
        print("rolled back:", error)
    print("dave exists?", User.get_or_none(User.username == "dave") is not None)
    print("deleted users:", User.delete().where(User.username == "carol").execute())
    print("users left:", User.select().count())

    heading("Bad values are refused before any SQL")
    try:
        User.create(username="x" * 60)
    except tinyorm.DataError as error:
        print("DataError:", error)


if __name__ == "__main__":
    try:
        main()
    finally:
        db.close_all()
        shutil.rmtree(directory, ignore_errors=True)
