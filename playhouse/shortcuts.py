"""Conversions between model instances and plain dicts (for JSON APIs, forms, fixtures)."""

from tinyorm import ForeignKeyField

from . import _guard  # noqa: F401 - refuses to load beside peewee's playhouse (see _guard)


def _loaded_value(instance, attr_key):
    """The value as loaded (None if the column was not selected): no lazy load."""
    try:
        return object.__getattribute__(instance, attr_key)
    except AttributeError:
        return None


def model_to_dict(instance, recurse=True, backrefs=False, only=None, exclude=None, max_depth=None):
    """A dict of an instance's field values.

    ``recurse`` follows foreign keys into nested dicts (loading them if needed; with
    ``recurse=False`` a foreign key gives its raw key). ``backrefs`` adds lists of related
    rows. ``only``/``exclude`` take fields or names; ``max_depth`` bounds the recursion.
    """
    only = {getattr(item, "name", item) for item in only} if only else None
    exclude = {getattr(item, "name", item) for item in exclude} if exclude else set()
    depth = 1 if max_depth is None else max_depth
    result = {}
    for name, field in type(instance)._meta.fields.items():
        if name in exclude or (only is not None and name not in only):
            continue
        if isinstance(field, ForeignKeyField):
            if recurse and depth > 0 and _loaded_value(instance, field.attr_key) is not None:
                related = getattr(instance, name)
                result[name] = model_to_dict(
                    related, recurse=recurse, backrefs=False, max_depth=None if max_depth is None else depth - 1
                )
            else:
                result[name] = _loaded_value(instance, field.attr_key)
            continue
        result[name] = _loaded_value(instance, field.attr_key)
    if backrefs:
        for fk in type(instance)._meta.backrefs:
            name = getattr(fk, "backref_name", None)
            if name is None or name in exclude or (only is not None and name not in only):
                continue
            result[name] = [model_to_dict(child, recurse=False) for child in getattr(instance, name)]
    return result


def update_model_from_dict(instance, data, ignore_unknown=False):
    """Set fields from a dict (nested dicts for foreign keys become related objects)."""
    meta = type(instance)._meta
    for key, value in data.items():
        field = meta.fields.get(key)
        if field is None:
            if ignore_unknown:
                continue
            raise AttributeError(f"{type(instance).__name__} has no field {key!r}")
        if isinstance(field, ForeignKeyField) and isinstance(value, dict):
            value = dict_to_model(field.rel_model, value, ignore_unknown)
        setattr(instance, key, value)
    return instance


def dict_to_model(model_class, data, ignore_unknown=False):
    """A new (unsaved) instance built from a dict."""
    return update_model_from_dict(model_class(), data, ignore_unknown)


__all__ = ["model_to_dict", "update_model_from_dict", "dict_to_model"]
