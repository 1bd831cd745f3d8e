"""Values planted in kefu's stores by someone else: a pickle that leaves a mark if it is run."""

from __future__ import annotations

import pickle
import sqlite3
from pathlib import Path

from diskcache.core import MODE_PICKLE

# The tables that hold values: diskcache's Cache, huey's kv (journal, dead letters, users'
# latest jobs), task (queue) and schedule (retries). Settings and metadata are not values.
VALUE_COLUMNS = {"Cache": "value", "kv": "value", "task": "data", "schedule": "data"}


class Planted:
    """Unpickling this creates `marker` (by opening it for writing: no command is run)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return open, (str(self.marker), "w")


def planted_pickle(marker: Path) -> bytes:
    return pickle.dumps(Planted(marker))


def plant_in_every_row(database: Path, marker: Path) -> int:
    """Replace every stored value in an SQLite file of kefu's with the pickle; rows replaced.

    diskcache rows are marked as pickles too, so that diskcache's own Disk would load them.
    """
    payload = planted_pickle(marker)
    replaced = 0
    with sqlite3.connect(database) as db:
        tables = {name for (name,) in db.execute("select name from sqlite_master")}
        for table, column in VALUE_COLUMNS.items():
            if table not in tables:
                continue
            extra = ", mode = ?, filename = NULL" if table == "Cache" else ""
            values = (payload, MODE_PICKLE) if table == "Cache" else (payload,)
            replaced += db.execute(f"update {table} set {column} = ?{extra}", values).rowcount
    db.close()
    return replaced
