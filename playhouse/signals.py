"""Model signals: ``pre_save``, ``post_save``, ``pre_delete``, ``post_delete``, ``pre_init``.

Subclass ``playhouse.signals.Model`` (instead of ``tinyorm.Model``) and connect receivers::

    @post_save(sender=User)
    def on_save(model_class, instance, created):
        ...

Signals fire from ``save()`` / ``delete_instance()`` (``pre_*`` before the statement,
``post_*`` after it) and from session flushes: there, after each statement of the flush and
in flush order (INSERTs parents first, UPDATEs, DELETEs children first), ``post_save`` is
sent for every object the statement inserted (``created=True``) or updated
(``created=False``) and ``post_delete`` for every object it deleted. Receivers run inside
the flush: one that raises rolls the flush back. A flush that fails after some statements
ran has sent their signals; their writes are rolled back. Bulk queries
(``Model.update().where(...)``) send none: they never see individual objects.
"""

import tinyorm
from tinyorm import events

from . import _guard  # noqa: F401 - refuses to load beside peewee's playhouse (see _guard)


class Signal:
    """A list of receivers called with ``(model_class, instance, ...)`` when the signal is sent.

    Use a signal as a decorator, ``@post_save(sender=User)``, or call ``connect``.
    """

    def __init__(self):
        self._receivers = []

    def connect(self, receiver, name=None, sender=None):
        """Call ``receiver`` when the signal is sent (only for instances of ``sender``, if given); a second receiver with the same name and sender is refused."""
        name = name or getattr(receiver, "__name__", repr(receiver))
        if any(
            existing_name == name and existing_sender is sender for existing_name, _, existing_sender in self._receivers
        ):
            raise ValueError(f"a receiver named {name!r} is already connected")
        self._receivers.append((name, receiver, sender))
        if _on_flush_write not in events.write_listeners:
            # Flushes are followed only once a receiver exists: until then writes pay nothing.
            events.write_listeners.append(_on_flush_write)

    def disconnect(self, receiver=None, name=None, sender=None):
        """Remove the receivers matching ``receiver``, ``name`` and ``sender`` (each optional)."""
        self._receivers = [
            entry
            for entry in self._receivers
            if not (
                (receiver is None or entry[1] is receiver)
                and (name is None or entry[0] == name)
                and (sender is None or entry[2] is sender)
            )
        ]

    def __call__(self, name=None, sender=None):
        def decorator(receiver):
            self.connect(receiver, name, sender)
            return receiver

        return decorator

    def send(self, instance, *args, **kwargs):
        """Call every matching receiver with ``(type(instance), instance, *args, **kwargs)``; returns ``[(receiver, result)]``."""
        sender = type(instance)
        results = []
        for _name, receiver, wanted in self._receivers:
            if wanted is None or isinstance(instance, wanted):
                results.append((receiver, receiver(sender, instance, *args, **kwargs)))
        return results


pre_save = Signal()
post_save = Signal()
pre_delete = Signal()
post_delete = Signal()
pre_init = Signal()


class Model(tinyorm.Model):
    """A tinyorm Model that sends signals around save() and delete_instance()."""

    def __init__(self, **values):
        super().__init__(**values)
        pre_init.send(self)

    def save(self, *args, **kwargs):
        created = not self._persisted
        pre_save.send(self, created=created)
        result = super().save(*args, **kwargs)
        post_save.send(self, created=created)
        return result

    def delete_instance(self, *args, **kwargs):
        pre_delete.send(self)
        result = super().delete_instance(*args, **kwargs)
        post_delete.send(self)
        return result


def _on_flush_write(event):
    """Session flushes: post_save/post_delete after each statement (tinyorm.events)."""
    if event.source != "flush" or not issubclass(event.model, Model):
        return
    if event.action == "delete":
        for instance in event.objects:
            post_delete.send(instance)
    else:
        created = event.action == "insert"
        for instance in event.objects:
            post_save.send(instance, created=created)


__all__ = ["Signal", "Model", "pre_save", "post_save", "pre_delete", "post_delete", "pre_init"]
