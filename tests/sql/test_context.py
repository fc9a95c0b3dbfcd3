"""The compile Context's scoped flags: ``with ctx.scope(...)`` holds flags for a block and
puts them back afterwards, also when a node fails to render. No server, no driver."""

import pytest

from tinyorm import SQL, CharField, Model, fn
from tinyorm.dialects import PostgresDialect, SqliteDialect
from tinyorm.sql.nodes import Context, Node


class Member(Model):
    name = CharField()


class Exploding(Node):
    def __sql__(self, ctx):
        raise ValueError("this node cannot render")


def flags(ctx):
    return ctx.qualify, ctx.select_list


def test_scope_sets_the_flags_given_for_the_block_and_restores_both():
    ctx = Context(SqliteDialect())
    assert flags(ctx) == (True, False)
    with ctx.scope(qualify=False):
        assert flags(ctx) == (False, False)
        with ctx.scope(select_list=True):
            assert flags(ctx) == (False, True)
        assert flags(ctx) == (False, False)
    assert flags(ctx) == (True, False)


def test_scope_restores_the_flags_when_rendering_raises():
    ctx = Context(SqliteDialect())
    with pytest.raises(ValueError, match="cannot render"):
        with ctx.scope(qualify=False, select_list=True):
            with ctx.scope(qualify=True):
                ctx.sql(Exploding())
    assert flags(ctx) == (True, False)


def test_scope_refuses_a_flag_it_does_not_know():
    ctx = Context(SqliteDialect())
    with pytest.raises(TypeError):
        ctx.scope(qualfy=False)
    assert flags(ctx) == (True, False)


def test_a_failed_returning_list_leaves_the_context_as_it_was():
    # RETURNING renders its columns unqualified, as a select list; a failure inside must not
    # leave either flag flipped for whatever the caller renders next.
    ctx = Context(PostgresDialect())
    with pytest.raises(ValueError):
        ctx.dialect.render_returning(ctx, [Member.name, Exploding()])
    assert flags(ctx) == (True, False)
    assert ctx.sql(Member.name).result()[0].endswith('"member"."name"')


def test_flags_inside_a_subquery_in_a_select_list_do_not_leak_out():
    # The subquery renders its own select list (aliases with AS) and its WHERE (no AS);
    # the outer select list continues with its own aliases afterwards.
    inner = Member.select(fn.MAX(Member.id).alias("top")).where(Member.name != SQL("''"))
    query = Member.select(inner.alias("top_id"), fn.COUNT(Member.id).alias("n"))
    sql, _params = query.sql(SqliteDialect())
    assert sql == (
        'SELECT (SELECT MAX("member"."id") AS "top" FROM "member" WHERE ("member"."name" != \'\')) AS "top_id", '
        'COUNT("member"."id") AS "n" FROM "member"'
    )
