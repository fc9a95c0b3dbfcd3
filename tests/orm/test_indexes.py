"""``tinyorm.Index``: index methods, partial and expression indexes, on every engine that
has them (judged by dialect flags), and what autogenerate sees of them."""

import pytest

from tinyorm import SQL, BooleanField, CharField, Index, IntegrityError, JSONField, Model, NotSupportedError, fn
from tinyorm.dialects import MySQLDialect, PostgresDialect, SqliteDialect
from tinyorm.migrations.autogenerate import plan_changes

from ..conftest import requires


class Account(Model):
    email = CharField(max_length=100)
    deleted = BooleanField(default=False)
    profile = JSONField(default=dict)

    class Meta:
        indexes = (
            # one live account per email; deleted ones may repeat it
            Index("email", unique=True, where=SQL("deleted = ?", [False]), required=False),
            Index("profile", method="gin", required=False),
        )


Account.add_index(Index(fn.LOWER(Account.email), name="account_email_lower", required=False))
Account.add_index(Index(Account.profile["plan"].as_text(), name="account_plan", required=False))


def index_names(db):
    return {index.name for index in db.get_indexes("account")}


@pytest.fixture
def accounts(db):
    Account.bind(db)
    db.create_tables([Account])
    return db


def expected_indexes(dialect):
    return {index.name for index in Account._meta.bound_indexes() if index.unsupported(dialect) is None}


def test_create_tables_builds_what_the_engine_has(accounts):
    assert expected_indexes(accounts.dialect) <= index_names(accounts)
    accounts.create_tables([Account])  # safe: nothing made twice
    assert plan_changes(accounts, [Account]) == []  # autogenerate sees every one of them


@requires("supports_partial_indexes")
def test_partial_unique_index(accounts):
    Account.create(email="a@example.com", deleted=True)
    Account.create(email="a@example.com", deleted=True)
    Account.create(email="a@example.com")
    with pytest.raises(IntegrityError):
        Account.create(email="a@example.com")


@requires("supports_expression_indexes")
def test_expression_index_exists_and_queries_still_work(accounts):
    assert "account_email_lower" in index_names(accounts)
    Account.create(email="Mixed@Example.com", profile={"plan": "pro"})
    assert Account.select().where(fn.LOWER(Account.email) == "mixed@example.com").count() == 1
    assert Account.select().where(Account.profile["plan"].as_text() == "pro").count() == 1


def test_a_required_index_the_engine_lacks_is_refused(db):
    class Strict(Model):
        code = CharField(max_length=20)

        class Meta:
            indexes = (Index("code", method="hash"),)

    Strict.bind(db)
    if "hash" in db.dialect.index_methods:
        db.create_tables([Strict])
        assert any(index.name.startswith("strict_code") for index in db.get_indexes("strict"))
    else:
        with pytest.raises(NotSupportedError, match="hash"):
            db.create_tables([Strict])


def test_autogenerate_adds_a_missing_index_compiled_for_every_engine(accounts):
    original = list(Account._meta.indexes)

    class AccountV2(Model):  # the same table with one more expression index
        email = CharField(max_length=100)
        deleted = BooleanField(default=False)
        profile = JSONField(default=dict)

        class Meta:
            table_name = "account"
            indexes = original

    AccountV2.add_index(Index(fn.UPPER(AccountV2.email), required=False))
    AccountV2.bind(accounts)
    changes = [change for change in plan_changes(accounts, [AccountV2]) if "add_index_sql" in change.upgrade]
    if not accounts.dialect.supports_expression_indexes:
        assert changes == []  # this engine goes without it: nothing it could tell missing
        return
    assert len(changes) == 1
    upgrade = changes[0].upgrade
    assert "'sqlite': 'CREATE INDEX" in upgrade and "'postgresql': 'CREATE INDEX" in upgrade
    assert "'mysql': None" in upgrade  # MariaDB/MySQL 5 go without an expression index


def test_index_golden_sql():
    gin = Account._meta.bound_indexes()[1]
    assert gin.create_sql(PostgresDialect()) == (
        f'CREATE INDEX IF NOT EXISTS "{gin.name}" ON "account" USING gin ("profile")'
    )
    assert gin.create_sql(SqliteDialect()) is None and gin.create_sql(MySQLDialect()) is None
    partial = Account._meta.bound_indexes()[0]
    assert partial.create_sql(SqliteDialect(), safe=False) == (
        f'CREATE UNIQUE INDEX "{partial.name}" ON "account" ("email") WHERE deleted = FALSE'
    )
    plan = Account._meta.bound_indexes()[3]
    assert plan.create_sql(PostgresDialect(), safe=False) == (
        'CREATE INDEX "account_plan" ON "account" ((("profile" ->> \'plan\')))'
    )
    hostile = Index(Account.profile['it\'s "x"'].as_text()).bind(Account)
    sql = hostile.create_sql(PostgresDialect(), safe=False)
    assert "'it''s \"x\"'" in sql  # the key is a quoted literal, quote doubled
