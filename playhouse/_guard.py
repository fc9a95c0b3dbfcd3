"""Refuse to run when peewee's ``playhouse`` package and ours share one directory.

Both projects ship a top-level package named ``playhouse``. pip installs each wheel's files
without looking at who owns a path, so installing both into one environment mixes them in
``site-packages/playhouse/``: the one installed last overwrites the other's files of the
same name (``__init__.py``, ``kv.py``, ``pool.py``, ``shortcuts.py``, ``signals.py``,
``test_utils.py``), and uninstalling either one deletes those paths, which the other still
needs. Nothing fails at install time; the damage shows later as wrong behaviour. So:

* our ``__init__.py`` sets ``__tinyorm__`` and, when it is the one loaded, asks the
  installed distributions whether another one owns files in this same directory;
* each of our modules imports this one first, which checks that the ``playhouse`` package
  it belongs to is ours (peewee's ``__init__.py`` in its place means peewee was installed
  over tinyorm).

Either way the import fails with :class:`ImportError` saying what happened and how to fix it.
"""

import os
import sys

FIX = (
    "tinyorm and peewee both ship a top-level `playhouse` package and cannot share one environment: "
    "whichever is installed last overwrites the other's files, and uninstalling one deletes files the "
    "other needs. Use separate virtualenvs, then repair this one with "
    "`pip uninstall -y peewee tinyorm && pip install tinyorm` (see tinyorm's docs/install.md)."
)


def _package():
    return sys.modules[__name__.rpartition(".")[0]]


def foreign_owners(directory):
    """Names of the distributions other than tinyorm that installed files into ``directory``.

    Only a distribution installed into the same folder can overwrite our files, so this
    reads the ``*.dist-info/RECORD`` files beside the package (a few small text files;
    ``importlib.metadata`` would cost a tenth of a second to answer the same).
    """
    package = os.path.basename(os.path.normpath(directory))
    site = os.path.dirname(os.path.normpath(directory))
    try:
        entries = os.listdir(site)
    except OSError:
        return []
    owners = []
    for entry in sorted(entries):
        if not entry.endswith(".dist-info") or entry.lower().startswith("tinyorm-"):
            continue
        try:
            with open(os.path.join(site, entry, "RECORD"), encoding="utf-8") as record:
                if any(line.startswith(package + "/") for line in record):
                    owners.append(entry[: -len(".dist-info")])
        except OSError:
            continue
    return owners


def check_directory(directory):
    """Raise ImportError if another distribution installed files into ``directory``."""
    owners = foreign_owners(directory)
    if owners:
        raise ImportError(f"{directory} also holds files of {', '.join(owners)}. {FIX}")


def _refuse_foreign_package():
    package = _package()
    if getattr(package, "__tinyorm__", False):
        return
    if getattr(package, "__file__", None) is None:  # a namespace package: no __init__.py left
        where = ", ".join(getattr(package, "__path__", ())) or "?"
        raise ImportError(
            f"tinyorm's `playhouse` package in {where} has lost its __init__.py "
            f"(uninstalling peewee deletes the files both projects ship). {FIX}"
        )
    raise ImportError(
        f"the `playhouse` package loaded from {os.path.dirname(package.__file__)} is not tinyorm's "
        f"(peewee was installed over tinyorm). {FIX}"
    )


_refuse_foreign_package()
