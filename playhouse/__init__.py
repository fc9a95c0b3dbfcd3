"""Extensions built on tinyorm's public API: pooling presets, signals, shortcuts, a
key/value store, a read-through cache and test helpers. The core never imports these.

peewee ships a package named ``playhouse`` as well; the two cannot be installed in one
environment (see ``playhouse._guard`` and docs/install.md), and importing this package
where they were raises ImportError saying so.
"""

__tinyorm__ = True  # the mark our modules look for: this package is tinyorm's, not peewee's

from ._guard import check_directory  # noqa: E402 - needs the mark above

check_directory(__path__[0])
