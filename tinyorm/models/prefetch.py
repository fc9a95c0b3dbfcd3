"""Eager loading: ``prefetch(query, *related)`` runs one query per related model and links
the results in memory, so walking ``user.tweets`` or ``tweet.user`` afterwards sends no SQL."""

from __future__ import annotations

import collections
from typing import TYPE_CHECKING, Any

from ..exceptions import FieldError
from ..relations import _loaded_value
from .aliases import _model_of
from .metadata import ModelBase
from .model import _dict_in_slot

if TYPE_CHECKING:
    from ..fields import ForeignKeyField
    from .model import Model


def prefetch(query: Any, *related: Any) -> Any:
    """Run ``query`` and one query per related model, and link the results in memory.

    ``related`` are models (or queries over them) reachable by a foreign key or a backref
    from the query's model or from an earlier entry. Backrefs become lists
    (``user.tweets``) and foreign keys related objects (``tweet.user``): no more SQL.
    """
    if isinstance(query, ModelBase):
        query = query.select()
    parents = list(query)
    loaded = [(_model_of(query.model), parents)]
    for item in related:
        sub = item.select() if isinstance(item, ModelBase) else item
        sub_model = _model_of(sub.model)
        for model, objects in reversed(loaded):  # noqa: B007 - objects is used after the break
            link = _prefetch_link(model, sub_model)
            if link is not None:
                break
        else:
            raise FieldError(f"prefetch: no foreign key links {sub_model.__name__} to the models before it")
        fk, is_backref = link
        if is_backref:
            keys = {_loaded_value(obj, fk.rel_field.attr_key) for obj in objects} - {None}
            children = list(sub.where(fk.in_(list(keys)))) if keys else []
            groups = collections.defaultdict(list)
            for child in children:
                groups[_loaded_value(child, fk.attr_key)].append(child)
            by_key = {_loaded_value(obj, fk.rel_field.attr_key): obj for obj in objects}
            name = getattr(fk, "backref_name", None) or f"{sub_model._meta.table_name}_set"
            for key, obj in by_key.items():
                # In the instance dict, where it hides the class's backref query accessor.
                obj.__dict__[name] = groups.get(key, [])
            for child in children:
                _dict_in_slot(child, "_rel")[fk.name] = by_key.get(_loaded_value(child, fk.attr_key))
            loaded.append((sub_model, children))
        else:
            keys = {_loaded_value(obj, fk.attr_key) for obj in objects} - {None}
            targets = list(sub.where(fk.rel_field.in_(list(keys)))) if keys else []
            by_key = {_loaded_value(target, fk.rel_field.attr_key): target for target in targets}
            for obj in objects:
                _dict_in_slot(obj, "_rel")[fk.name] = by_key.get(_loaded_value(obj, fk.attr_key))
            loaded.append((sub_model, targets))
    return parents


def _prefetch_link(model: type[Model], sub_model: type[Model]) -> tuple[ForeignKeyField[Any], bool] | None:
    for fk in sub_model._meta.refs:
        if fk.rel_model is model:
            return fk, True
    for fk in model._meta.refs:
        if fk.rel_model is sub_model:
            return fk, False
    return None
