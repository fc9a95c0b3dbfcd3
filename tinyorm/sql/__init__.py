"""The SQL layer: expression nodes, queries and the compile context. No I/O."""

from . import nodes, query
from .nodes import *  # noqa: F401,F403
from .query import *  # noqa: F401,F403

# In the forms type checkers read (pyright follows `+= module.__all__`).
__all__: list[str] = []
__all__ += nodes.__all__
__all__ += query.__all__
