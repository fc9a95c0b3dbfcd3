"""The SQL layer: expression nodes, queries and the compile context. No I/O."""

from .nodes import *  # noqa: F401,F403
from .nodes import __all__ as _node_names
from .query import *  # noqa: F401,F403
from .query import __all__ as _query_names

__all__ = list(_node_names) + list(_query_names)
