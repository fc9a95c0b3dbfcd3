"""Field types: declaration, validation of Python values, and column references in SQL.

A field converts in two steps. ``coerce`` (engine-independent) checks a Python value and
returns its canonical form, raising ``DataError`` naming the field for one that does not fit
(never truncating or clamping). The dialect's ``to_driver`` adapter then turns the canonical
value into what the driver sends. ``adapter(dialect)`` composes both once per engine.
Reading goes the other way through the dialect's ``from_driver`` only where the driver's
value is not already right.

The package is split by kind of value (``base``, ``numeric``, ``text``, ``temporal``,
``json``); every name is importable from ``tinyorm.fields`` as before.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..sql.nodes import SQL

# The private names other modules import from here (relations, playhouse.cache) keep working:
# the ``X as X`` form marks them as re-exports.
from .base import _T as _T
from .base import FK_ACTIONS as FK_ACTIONS
from .base import PER_ENGINE_CACHE_SIZE as PER_ENGINE_CACHE_SIZE
from .base import Field
from .json import JSONField
from .numeric import (
    AutoField,
    BigAutoField,
    BigIntegerField,
    BooleanField,
    DecimalField,
    DoubleField,
    FloatField,
    IntegerField,
    SmallIntegerField,
    VersionField,
)
from .numeric import _IntegerBase as _IntegerBase
from .temporal import DateField, DateTimeField, TimeField
from .text import BlobField, CharField, TextField, UUIDField
from .text import _TextBase as _TextBase

if TYPE_CHECKING:
    from .base import _KeyOptions as _KeyOptions
    from .base import _Options as _Options

__all__ = [
    "Field",
    "AutoField",
    "BigAutoField",
    "IntegerField",
    "BigIntegerField",
    "SmallIntegerField",
    "FloatField",
    "DoubleField",
    "DecimalField",
    "CharField",
    "TextField",
    "BooleanField",
    "DateTimeField",
    "DateField",
    "TimeField",
    "UUIDField",
    "BlobField",
    "JSONField",
    "ForeignKeyField",
    "VersionField",
    "CompositeKey",
]

# The relation fields live in relations.py (one idea per module); they are re-exported
# here, so ``from tinyorm.fields import ForeignKeyField`` keeps working.
from ..relations import CompositeKey, ForeignKeyField  # noqa: E402

# SQL is re-exported here for ``constraints=[SQL(...)]`` in field declarations.
__all__ += ["SQL"]
