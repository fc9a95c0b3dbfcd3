"""Models: the metaclass and ``_meta``, active-record methods, and model-aware queries.

One module per idea, in the order they build on each other:

- ``metadata``  ``Metadata`` (``Model._meta``), ``ModelBase`` (the metaclass, ``Meta`` options)
- ``model``     the active-record ``Model``: change tracking, save/delete/refresh, class API
- ``aliases``   ``ModelAlias``/``FieldAlias`` for self-joins, and helpers that see through them
- ``hydration`` generated row constructors and result shapes (rows -> objects, dicts, tuples)
- ``lookups``   ``field__op`` resolution for ``filter()``
- ``select``    ``ModelSelect``, compound selects, execution and result types
- ``writes``    ``ModelInsert`` (batches, upserts), ``ModelUpdate``, ``ModelDelete``, save plans
- ``prefetch``  eager loading of related rows in one query per model

Everything that was importable from the single ``tinyorm.models`` module stays importable
from here.
"""

# model.py first: the query modules it imports at its end refer back to Model.
from .model import Model, TypedModel, _value_node, stale_data_error

# isort: split
from .aliases import FieldAlias, ModelAlias
from .hydration import _hydrator_for, _RowShape, _tuple_converter
from .lookups import LOOKUPS
from .metadata import BackrefAccessor, FieldOnClass, Metadata, ModelBase
from .prefetch import prefetch
from .select import ModelCompoundSelect, ModelSelect
from .writes import ModelDelete, ModelInsert, ModelUpdate

__all__ = ["Model", "TypedModel", "ModelSelect", "ModelAlias", "prefetch"]
