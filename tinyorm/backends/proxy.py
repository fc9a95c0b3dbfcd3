"""Binding models to a database chosen later, and base classes bound to a database.

App factories create the database when the application starts (from its configuration),
long after the model modules were imported::

    db = tinyorm.DatabaseProxy()

    class Base(db.Model): ...          # or: class Meta: database = db

    def create_app(config):
        db.initialize(tinyorm.connect(config["DATABASE_URL"]))   # a Database or a Router

Until ``initialize`` every use of the proxy raises ``ImproperlyConfigured``; afterwards it
forwards everything to what it was given, so models, sessions and queries never notice it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, TypeVar, overload

from ..exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from ..models.model import Model
    from ..router.core import Router
    from .base import Database

_DatabaseOrRouter = TypeVar("_DatabaseOrRouter", bound="Database | Router")
_Callback = TypeVar("_Callback", bound="Callable[[Any], object]")


def model_base(target: object) -> type[Model]:
    """A ``Model`` subclass whose ``Meta.database`` is ``target`` (``db.Model``).

    The base is abstract in spirit: it has no table of its own unless it is created.
    """
    from ..models import Model  # the model layer sits above the backends

    meta = type("Meta", (), {"database": target})
    return type("Model", (Model,), {"Meta": meta, "__module__": __name__, "__qualname__": "Model"})


class _BoundModel:
    """``db.Model``: made once per database (or router, or proxy) on first use."""

    @overload
    def __get__(self, instance: None, owner: type) -> _BoundModel: ...
    @overload
    def __get__(self, instance: object, owner: type) -> type[Model]: ...
    def __get__(self, instance: object, owner: type) -> _BoundModel | type[Model]:
        if instance is None:
            return self
        base = instance.__dict__.get("_model_base")
        if base is None:
            base = instance.__dict__["_model_base"] = model_base(instance)
        return base


class DatabaseProxy:
    """A stand-in for a Database or Router bound later with :meth:`initialize`."""

    Model = _BoundModel()

    def __init__(self) -> None:
        self.__dict__["obj"] = None
        self.__dict__["_callbacks"] = []

    def initialize(self, database: _DatabaseOrRouter) -> _DatabaseOrRouter:
        """Bind the proxy to a Database or Router (again, to rebind it, e.g. in tests)."""
        if database is self:  # type: ignore[comparison-overlap]  # untyped callers can still pass the proxy
            raise ImproperlyConfigured("a DatabaseProxy cannot proxy itself")
        self.__dict__["obj"] = database
        for callback in self._callbacks:
            callback(database)
        return database

    def attach_callback(self, callback: _Callback) -> _Callback:
        """Run ``callback(database)`` on every :meth:`initialize` (set up pools, signals)."""
        self._callbacks.append(callback)
        if self.obj is not None:
            callback(self.obj)
        return callback

    def _target(self) -> Any:
        database = self.__dict__["obj"]
        if database is None:
            raise ImproperlyConfigured(
                "this DatabaseProxy is not initialized: call proxy.initialize(tinyorm.connect(url)) first"
            )
        return database

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self._target(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._target(), name, value)

    def __delattr__(self, name: str) -> None:
        delattr(self._target(), name)

    def __enter__(self) -> Any:
        return self._target().__enter__()

    def __exit__(self, *exc_info: Any) -> Any:
        return self._target().__exit__(*exc_info)

    def __repr__(self) -> str:
        return f"<DatabaseProxy {self.obj!r}>"
