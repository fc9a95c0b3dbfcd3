"""The Session: identity map, change tracking and a unit of work.

    with Session(db) as s:             # commits on success, rolls back on an exception
        user = s.get(User, 1)          # one SELECT; later gets answer from the map
        user.email = "new@example.com" # tracked
        s.add(Tweet(user=user, content="hi"))
    # leaving the block flushes (INSERTs parents first, batched) and commits

A session writes inside its own transaction on each database it touches, opened at its
first flush and ended by ``commit()`` or ``rollback()``. Each later flush runs in a
savepoint within that transaction (the first needs none: BEGIN, ..., COMMIT), so a flush
that fails leaves nothing of itself behind and the session can go on. A session belongs to one thread.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any, Iterable, Literal, TypeVar

from .exceptions import ConnectionLostError, TinyORMError, TransactionAbortedError
from .identity import IdentityMap
from .models import Model
from .models.model import EXPIRED, _replace_state, _set_raw
from .relations import _loaded_value
from .unitofwork import FlushPlan, StaleGroup, cascade_deleted

if TYPE_CHECKING:
    from typing_extensions import Self

    from .backends.base import Database
    from .models.select import ModelSelect
    from .router.core import Router

_M = TypeVar("_M", bound=Model)

__all__ = ["Session"]


class Session:
    """A unit of work over a Database (or a Router).

    ``expire_on_commit`` (default True) makes every object reload its columns on first
    access after a commit; ``autoflush`` (default True) flushes pending changes before a
    query runs through the session, so queries see them.
    """

    def __init__(
        self, bind: Database | Router | None = None, expire_on_commit: bool = True, autoflush: bool = True
    ) -> None:
        self.bind = bind
        self.expire_on_commit = expire_on_commit
        self.autoflush = autoflush
        self.identity_map = IdentityMap()
        # Pending objects by id().
        self._new: dict[int, Model] = {}
        self._dirty: dict[int, Model] = {}
        self._deleted: dict[int, Model] = {}
        self._transactions: list[Database] = []  # databases with a session transaction open, in order
        self._flushed_new: list[Model] = []  # objects inserted in the open transaction (undone on rollback)
        self._flushed_deleted: list[Model] = []
        self._self_ref = weakref.ref(self)
        self._flushing = False
        self._lost: BaseException | None = None  # the error that lost this session's transaction, until rollback()

    # -- context manager -------------------------------------------------------------------
    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> Literal[False]:
        try:
            if exc_type is None:
                self.commit()
            else:
                self.rollback()
        finally:
            self.close()
        return False

    # -- databases -------------------------------------------------------------------------
    def _resolve(self, model: type[Model]) -> Database | Router:
        bind = self.bind if self.bind is not None else model._meta.get_database()
        return bind

    def _read_database(self, model: type[Model]) -> Database:
        # Once this session has written, its transaction is open on the primary, and a
        # Router sends this thread's reads there (read-your-writes inside the session).
        return self._resolve(model).route_read(model)

    def _write_database(self, model: type[Model]) -> Database:
        return self._resolve(model).route_write(model)

    def _identity_key(self, model: type[Model], pk: Any) -> tuple[Any, type[Model], Any]:
        return (self._resolve(model).identity_name(model), model, pk)

    def _key_of(self, obj: Model) -> tuple[Any, type[Model], Any]:
        return self._identity_key(type(obj), obj.pk)

    # -- reading ---------------------------------------------------------------------------
    def query(self, model: type[_M], *columns: Any) -> ModelSelect[_M]:
        """``Model.select(...)`` whose results pass through this session's identity map.

        ``s.query(Tweet, User).join(User)`` selects both models (tweets with their users);
        ``s.query(User, User.username)`` selects just the columns given.
        """
        from .models.aliases import ModelAlias
        from .models.metadata import ModelBase

        if columns and any(isinstance(column, (ModelBase, ModelAlias)) for column in columns):
            columns = (model,) + columns
        query = model.select(*columns)
        query._session = self
        return query

    def get(self, model: type[_M], pk: Any) -> _M | None:
        """The object with this primary key: from the identity map if present (no SQL),
        else loaded with one SELECT; None if there is no such row."""
        meta = model._meta
        if meta.composite_key:
            pk = tuple(field.coerce(part) for field, part in zip(meta.primary_key.fields, pk))
        else:
            pk = meta.primary_key.coerce(pk)
        key = self._identity_key(model, pk)
        obj: _M | None = self.identity_map.get(key)
        if obj is not None:
            if id(obj) in self._deleted:
                return None
            if obj._persisted is EXPIRED:
                self.refresh(obj)
            return obj
        if self.autoflush:
            self._autoflush()
        results = self.query(model).where(meta.pk_expression(pk)).limit(1).execute()
        return results[0] if results else None

    def _holds(self, model: type[Model], pk: Any) -> bool:
        """True if the identity map has the (unexpired) object: a get needs no SQL."""
        obj = self.identity_map.get(self._identity_key(model, pk))
        return obj is not None and obj._persisted is not EXPIRED

    def _merge_loaded(self, objects: list[_M], populate_existing: bool = False) -> list[_M]:
        """Route freshly hydrated objects through the identity map (same row → same object)."""
        if not objects:
            return objects
        identity_map = self.identity_map
        # The identity map's dict is used directly: this loop runs once per loaded row.
        refs = identity_map._refs
        make_ref = weakref.ref
        added = 0
        session_ref = self._self_ref
        merged: list[_M] = []
        append = merged.append
        model = None
        for obj in objects:
            if type(obj) is not model:
                model = type(obj)
                meta = model._meta
                name = self._resolve(model).identity_name(model)
                pk_key = None if meta.composite_key else meta.primary_key.attr_key
            rel = obj._rel
            if rel:
                # objects loaded alongside (joined selects) join the map too
                for rel_name, related in list(rel.items()):
                    if related is not None and related._session is None:
                        rel[rel_name] = self._merge_loaded([related], populate_existing)[0]
            # name and pk_key are set on the first object: model starts as None
            key = (name, model, _loaded_value(obj, pk_key) if pk_key is not None else obj.pk)  # pyright: ignore[reportPossiblyUnboundVariable]
            existing = refs.get(key)
            if existing is not None:
                existing = existing()
            if existing is None:
                _set_raw(obj, "_session", session_ref)
                refs[key] = make_ref(obj)
                added += 1
                append(obj)
                continue
            if populate_existing or existing._persisted is EXPIRED:
                fresh = obj.__getstate__()
                fresh["_session"] = session_ref
                fresh["_rel"] = obj._rel
                _replace_state(existing, fresh)
                self._dirty.pop(id(existing), None)
            append(existing)
        identity_map.note_additions(added)
        return merged

    def _objects_of(self, model: type[_M]) -> list[_M]:
        return [obj for obj in self.identity_map.objects() if type(obj) is model]

    # -- pending changes -------------------------------------------------------------------
    def add(self, obj: _M) -> _M:
        """Make a new object pending (INSERT at the next flush), or attach a loaded one."""
        if not isinstance(obj, Model):
            raise TypeError(f"Session.add() takes a model instance, not {type(obj).__name__}")
        owner = obj._session
        if owner is not None and owner() is not None and owner() is not self:
            raise TinyORMError(f"{obj!r} belongs to another session; expunge it there first")
        if not obj._persisted:
            self._attach_new(obj)
            return obj
        key = self._key_of(obj)
        existing = self.identity_map.get(key)
        if existing is not None and existing is not obj:
            raise TinyORMError(f"another object with identity {obj!r} is already in this session")
        _set_raw(obj, "_session", self._self_ref)
        self.identity_map.add(key, obj)
        if obj._changes:
            self._dirty[id(obj)] = obj
        return obj

    def add_all(self, objects: Iterable[Model]) -> None:
        """``add`` each of ``objects``."""
        for obj in objects:
            self.add(obj)

    def _attach_new(self, obj: Model) -> None:
        _set_raw(obj, "_session", self._self_ref)
        self._new[id(obj)] = obj

    def delete(self, obj: Model) -> None:
        """Mark an object for DELETE at the next flush (a pending new one is just dropped)."""
        if id(obj) in self._new:
            del self._new[id(obj)]
            _set_raw(obj, "_session", None)
            return
        if not obj._persisted:
            raise TinyORMError(f"{obj!r} is not saved; there is nothing to delete")
        self.add(obj)
        self._dirty.pop(id(obj), None)
        self._deleted[id(obj)] = obj

    def _mark_dirty(self, obj: Model) -> None:
        if id(obj) not in self._new and id(obj) not in self._deleted:
            self._dirty[id(obj)] = obj

    @property
    def new(self) -> list[Model]:
        """Objects that the next flush will INSERT."""
        return list(self._new.values())

    @property
    def dirty(self) -> list[Model]:
        """Objects with changed columns that the next flush will UPDATE."""
        return [obj for obj in self._dirty.values() if obj._dirty_fields()]

    @property
    def deleted(self) -> list[Model]:
        """Objects that the next flush will DELETE."""
        return list(self._deleted.values())

    def __contains__(self, obj: Model) -> bool:
        if id(obj) in self._new:
            return True
        return self.identity_map.get(self._key_of(obj)) is obj

    # -- flushing --------------------------------------------------------------------------
    def _autoflush(self) -> None:
        if self.autoflush and not self._flushing and (self._new or self._dirty or self._deleted):
            self.flush()

    def flush(self) -> None:
        """Write pending changes inside this session's transaction (a savepoint per later flush).

        With nothing pending no SQL is sent. On failure nothing of this flush remains in
        the database, the objects keep their pending state, and the error propagates.
        """
        if self._lost is not None:
            raise self._lost_error()
        if not (self._new or self._dirty or self._deleted) or self._flushing:
            return
        plan = FlushPlan(self, list(self._new.values()), list(self._dirty.values()), list(self._deleted.values()))
        if not plan:
            self._dirty.clear()
            return
        self._flushing = True
        databases = plan.databases()
        try:
            # A flush that opens the session's transaction needs no savepoint: rolling the
            # transaction back undoes exactly this flush. Later flushes each take one, so a
            # failure keeps what earlier flushes wrote.
            opened = [database for database in databases if self._begin(database)]
            savepoints: list[Database] = []
            try:
                for database in databases:
                    if not any(database is fresh for fresh in opened):
                        database.begin()
                        savepoints.append(database)
                plan.execute()
            except BaseException as exc:
                for database in reversed(savepoints):
                    database.rollback()
                for database in reversed(opened):
                    self._end_failed_transaction(database)
                plan.undo()
                if isinstance(exc, StaleGroup):
                    raise FlushPlan.stale_error(exc) from None
                if isinstance(exc, (TransactionAbortedError, ConnectionLostError)) and self._transactions:
                    self._lost = exc  # earlier flushes of this transaction are gone too
                raise
            for database in reversed(savepoints):
                database.commit()
        finally:
            self._flushing = False
        self._after_flush(plan)

    def _begin(self, database: Database) -> bool:
        """Open this session's transaction on ``database``; True if this call opened it."""
        if any(open_db is database for open_db in self._transactions):
            return False
        database.begin()
        self._transactions.append(database)
        return True

    def _end_failed_transaction(self, database: Database) -> None:
        """Roll back a transaction that the failing flush itself opened."""
        self._transactions = [open_db for open_db in self._transactions if open_db is not database]
        try:
            database.rollback()
        except TinyORMError:
            database._discard_connection()

    def _after_flush(self, plan: FlushPlan) -> None:
        identity_map = self.identity_map
        for obj in plan.inserted:
            _set_raw(obj, "_persisted", True)
            _set_raw(obj, "_changes", None)
            identity_map.add(self._key_of(obj), obj)
            self._flushed_new.append(obj)
        for obj in plan.updated:
            _set_raw(obj, "_changes", None)
        for obj, _fields in plan.dirty:
            _set_raw(obj, "_changes", None)
        for obj in plan.waiting:
            _set_raw(obj, "_changes", None)
        removed, nulled = cascade_deleted(self, plan.deleted)
        for obj in plan.deleted + removed:
            identity_map.discard(self._key_of(obj))
            _set_raw(obj, "_persisted", False)
            self._dirty.pop(id(obj), None)
            self._flushed_deleted.append(obj)
        for child, fk in nulled:
            _set_raw(child, fk.attr_key, None)
            rel = child._rel
            if rel:
                rel.pop(fk.name, None)
        self._new.clear()
        self._dirty.clear()
        self._deleted.clear()

    # -- transactions ----------------------------------------------------------------------
    def commit(self) -> None:
        """Flush, then commit every database this session wrote to, in the order it first
        wrote to them. If a commit fails, the databases not yet committed are rolled back
        and the error names the ones that did commit.

        A commit that fails has stored nothing of the work flushed since the last commit:
        the session then refuses to flush or commit (``TransactionAbortedError``) until
        :meth:`rollback`, which turns the objects it had inserted back into unsaved ones.
        """
        if self._lost is not None:
            raise self._lost_error()
        self.flush()
        committed: list[Database] = []
        transactions, self._transactions = self._transactions, []
        try:
            for database in transactions:
                database.commit()
                committed.append(database)
        except BaseException as exc:
            for database in transactions[len(committed) + 1 :]:
                database.rollback()
            self._lost = exc
            if committed:  # part of the work is stored: rollback() must not unsave it
                self._flushed_new = []
                self._flushed_deleted = []
            if committed and isinstance(exc, TinyORMError):
                names = ", ".join(repr(self._database_name(database)) for database in committed)
                failed = repr(self._database_name(transactions[len(committed)]))
                # Same class as the original (so `except IntegrityError` still works), with
                # the databases that did commit named and kept on the error.
                error = type(exc)(f"commit failed on {failed} after committing {names}: {exc}")
                error.committed = [self._database_name(database) for database in committed]
                raise error from exc
            raise
        self._flushed_new = []
        self._flushed_deleted = []
        if self.expire_on_commit:
            self.expire_all()

    def _lost_error(self) -> TransactionAbortedError:
        lost = self._lost
        error = TransactionAbortedError(
            f"this session's transaction was lost ({type(lost).__name__}: {lost}); nothing flushed "
            "since the last commit is stored: call rollback() and do the work again",
            lost,
        )
        error.__cause__ = lost
        return error

    def _database_name(self, database: Database) -> str:
        name_of = getattr(self.bind, "name_of", None)
        return name_of(database) if name_of is not None else repr(database)

    def rollback(self) -> None:
        """Discard pending changes and roll back what this session's flushes wrote.

        Objects inserted by those flushes become new (unsaved) objects outside the
        session again; every other object in the session is expired and reloads on access.
        """
        transactions, self._transactions = self._transactions, []
        self._lost = None
        for database in reversed(transactions):
            try:
                database.rollback()
            except TinyORMError:
                database._discard_connection()
        for obj in self._flushed_new:
            meta = type(obj)._meta
            self.identity_map.discard(self._key_of(obj))
            pk = meta.primary_key
            if not meta.composite_key and pk.auto_increment:
                _set_raw(obj, pk.attr_key, None)
            _set_raw(obj, "_persisted", False)
            _set_raw(obj, "_session", None)
        for obj in self._flushed_deleted:
            _set_raw(obj, "_persisted", True)
            self.identity_map.add(self._key_of(obj), obj)
        for obj in self._new.values():
            _set_raw(obj, "_session", None)
        self._flushed_new = []
        self._flushed_deleted = []
        self._new.clear()
        self._dirty.clear()
        self._deleted.clear()
        self.expire_all()

    def close(self) -> None:
        """Roll back anything uncommitted and release every object."""
        if self._transactions:
            self.rollback()
        for obj in self.identity_map.objects():
            _set_raw(obj, "_session", None)
        self.identity_map.clear()
        self._new.clear()
        self._dirty.clear()
        self._deleted.clear()

    # -- object state ----------------------------------------------------------------------
    def expire(self, obj: Model) -> None:
        """Forget ``obj``'s loaded columns; the next attribute access reloads them."""
        meta = type(obj)._meta
        keep = {field.attr_key: _loaded_value(obj, field.attr_key) for field in meta.primary_key_fields}
        keep["_persisted"] = EXPIRED if obj._persisted else False
        keep["_session"] = obj._session
        _replace_state(obj, keep)
        self._dirty.pop(id(obj), None)

    def expire_all(self) -> None:
        """Forget every loaded value: each object reloads from the database on its next attribute read. Pending changes are kept."""
        dirty = self._dirty
        pk_keys: dict[type[Model], list[str]] = {}
        for obj in self.identity_map.objects():
            if not obj._persisted:
                continue
            model = type(obj)
            keys = pk_keys.get(model)
            if keys is None:
                keys = pk_keys[model] = [field.attr_key for field in model._meta.primary_key_fields]
            keep = {key: _loaded_value(obj, key) for key in keys}
            keep["_persisted"] = EXPIRED
            keep["_session"] = obj._session
            _replace_state(obj, keep)
            dirty.pop(id(obj), None)

    def refresh(self, obj: _M) -> _M:
        """Reload every column of ``obj`` now (discarding its unsaved changes)."""
        model = type(obj)
        meta = model._meta
        if self.autoflush:
            self._autoflush()
        database = self._read_database(model)
        query = model.select().where(meta.pk_expression(obj.pk)).limit(1)
        rows = query._fetch(database)
        if not rows:
            raise model.DoesNotExist(f"{model.__name__} with primary key {obj.pk!r} no longer exists")
        fresh = rows[0].__getstate__()
        fresh["_session"] = obj._session
        _replace_state(obj, fresh)
        self._dirty.pop(id(obj), None)
        return obj

    def expunge(self, obj: Model) -> None:
        """Remove ``obj`` from the session; it keeps its values but is no longer tracked."""
        self._new.pop(id(obj), None)
        self._dirty.pop(id(obj), None)
        self._deleted.pop(id(obj), None)
        if obj._persisted and obj.pk is not None:
            key = self._key_of(obj)
            if self.identity_map.get(key) is obj:
                self.identity_map.discard(key)
        _set_raw(obj, "_session", None)

    def expunge_all(self) -> None:
        """Remove every object from the session (``expunge`` each); nothing is written."""
        for obj in self.identity_map.objects():
            self.expunge(obj)
        for obj in list(self._new.values()):
            self.expunge(obj)
