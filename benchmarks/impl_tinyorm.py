"""tinyorm, through its public API only (see ``activerecord`` for the workloads' code)."""
from __future__ import annotations

import tinyorm

from .activerecord import ActiveRecordImplementation


class TinyORM(ActiveRecordImplementation):
    name = "tinyorm"
    label = "tinyorm"
    orm = tinyorm

    def open_database(self, engine):
        return tinyorm.connect(engine.url)
