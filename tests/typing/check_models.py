"""What type checkers see of tinyorm models and queries (``make lint`` runs mypy and pyright here).

Not a pytest module: nothing here runs (tests/typing/test_typing.py runs the checkers on it).
Each ``assert_type`` proves a type an editor shows. Each line ending in an ignore comment is
a mistake both checkers must report: mypy runs with ``warn_unused_ignores`` and pyright with
``reportUnnecessaryTypeIgnoreComment``, so a mistake that stops being reported fails the check.
"""

from __future__ import annotations

import datetime
import decimal
import uuid
from typing import Any, ClassVar

from typing_extensions import assert_type

from tinyorm import (
    BlobField,
    BooleanField,
    CharField,
    DateField,
    DateTimeField,
    DecimalField,
    FloatField,
    ForeignKeyField,
    IntegerField,
    JSONField,
    Model,
    ModelSelect,
    TextField,
    TimeField,
    TypedModel,
    UUIDField,
)
from tinyorm.models.select import ModelCompoundSelect
from tinyorm.sql.nodes import Expression


# -- a model as the docs write it: fields without annotations ------------------------------
class User(Model):
    username = CharField(max_length=50, unique=True)
    email = CharField(null=True, index=True)
    age = IntegerField(default=0)
    balance = DecimalField(max_digits=10, decimal_places=2)
    joined = DateTimeField(default=datetime.datetime.now)
    active = BooleanField(default=True)
    score = FloatField(null=True)
    bio = TextField(null=True)
    born = DateField(null=True)
    wakes = TimeField(null=True)
    token = UUIDField(default=uuid.uuid4)
    avatar = BlobField(null=True)
    settings = JSONField(null=True)

    # What the metaclass adds is invisible to type checkers; declared, it is typed.
    tweets: ClassVar[ModelSelect[Tweet]]


class Tweet(Model):
    user = ForeignKeyField(User, backref="tweets")
    editor = ForeignKeyField(User, null=True, backref="+")
    parent = ForeignKeyField("self", null=True)  # a model by name: Any
    content = TextField()

    user_id: ClassVar[int]  # the raw key, declared


user = User(username="ann")
tweet = Tweet(user=user, content="hi")

# On the class a field is the field (so comparisons build SQL); on an instance, its value.
assert_type(User.username, CharField[str])
assert_type(User.email, CharField[str | None])
assert_type(User.username == "ann", Expression)
assert_type(User.age > 3, Expression)
assert_type(user.username, str)
assert_type(user.email, str | None)
assert_type(user.age, int)
assert_type(user.balance, decimal.Decimal)
assert_type(user.joined, datetime.datetime)
assert_type(user.active, bool)
assert_type(user.score, float | None)
assert_type(user.bio, str | None)
assert_type(user.born, datetime.date | None)
assert_type(user.wakes, datetime.time | None)
assert_type(user.token, uuid.UUID)
assert_type(user.avatar, bytes | None)
assert_type(user.settings, Any)
assert_type(user.id, Any)
assert_type(tweet.user, User)
assert_type(tweet.editor, User | None)
assert_type(tweet.parent, Any)
assert_type(tweet.user_id, int)
assert_type(user.tweets, ModelSelect[Tweet])

# Queries carry their row type through every chained call.
query = User.select().where(User.username.startswith("a")).order_by(User.username).limit(10)
assert_type(query, ModelSelect[User])
for row in query:
    assert_type(row, User)
assert_type(query.get(), User)
assert_type(query.first(), User | None)
assert_type(query[0], User)
assert_type(query[1:3], list[User])
assert_type(query.execute(), list[User])
assert_type(User.get(User.id == 1), User)
assert_type(User.get_or_none(username="ann"), User | None)
assert_type(User.get_by_id(1), User)
assert_type(User.get_or_create(username="ann"), tuple[User, bool])
assert_type(User.create(username="bob"), User)
assert_type(User.filter(username__startswith="a"), ModelSelect[User])
assert_type(User.select().join(Tweet).where(Tweet.content != ""), ModelSelect[User])
assert_type(query.dicts(), ModelSelect[dict[str, Any]])
assert_type(query.dicts().get(), dict[str, Any])
assert_type(query.tuples().first(), tuple[Any, ...] | None)
assert_type(query.union(User.select()), ModelCompoundSelect[User])
assert_type(query.count(), int)
assert_type(query.exists(), bool)
assert_type(user.save(), int)

# Mistakes both checkers report.
user.username = None  # type: ignore[assignment]  # pyright: ignore[reportAttributeAccessIssue]
user.age = "3"  # type: ignore[assignment]  # pyright: ignore[reportAttributeAccessIssue]
_ = len(user.email)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
_ = User().age + "1"  # type: ignore[operator]  # pyright: ignore[reportOperatorIssue]
_ = query.get().usrname  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue]
_ = query.dicts().get().username  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue]
_ = tweet.user.usrname  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue]
CharField(max_length=50, nul=True)  # type: ignore[call-overload]  # pyright: ignore[reportCallIssue]


# -- TypedModel: annotated fields also type the constructor and create() --------------------
class Account(TypedModel):
    name: CharField[str] = CharField(max_length=50)
    note: CharField[str | None] = CharField(null=True)
    owner: ForeignKeyField[User] = ForeignKeyField(User)


account = Account(name="main", owner=user)
assert_type(account.name, str)
assert_type(account.note, str | None)
assert_type(account.owner, User)
assert_type(Account.create(name="x", owner=user), Account)
assert_type(Account.select().first(), Account | None)
Account()  # every field is optional, as at run time

Account(nme="main")  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]
Account.create(nme="main")  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]
Account(name=3)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
Account.create(note=b"x")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
