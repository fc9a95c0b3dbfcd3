"""Rendering a node with its values written as literals, for DDL (which takes no parameters).

Used for expression indexes and partial-index conditions: the values still go through the
dialect's literal quoting (``literal_default``), never pasted as they are.
"""

from __future__ import annotations

from typing import Any

from ..exceptions import ImproperlyConfigured
from .nodes import Context

__all__ = ["render_inline"]

_SENTINEL = "\x00"


def render_inline(node: Any, dialect: Any, qualify: bool = False) -> str:
    """SQL text for ``node`` with every value written as a literal (for DDL).

    The node renders with a placeholder that no SQL text can contain (NUL, which quoting
    refuses in identifiers), which is then replaced by each value's quoted literal.
    """
    ctx = Context(dialect)
    ctx.param = _SENTINEL
    with ctx.scope(qualify=qualify):
        ctx.sql(node)
    pieces = "".join(ctx.parts).split(_SENTINEL)
    if len(pieces) - 1 != len(ctx.params):
        raise ImproperlyConfigured("an index expression holds a value that cannot be written into DDL")
    out = [pieces[0]]
    for value, piece in zip(ctx.params, pieces[1:]):
        out.append(dialect.literal_default(value))
        out.append(piece)
    return "".join(out)
