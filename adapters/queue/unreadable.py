"""Queue files SQLite cannot read: set aside, with what can still be read from them."""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from pathlib import Path

from adapters.queue.queue_rows import QueueRows, connect, read_rows
from adapters.state.private import FILE_MODE

log = logging.getLogger(__name__)

CORRUPT = ".corrupt-"
"""Infix of a queue file set aside because SQLite could not read it: replies.db.corrupt-<time>."""
LOGS = ("-wal", "-shm")
"""SQLite's files beside a database in WAL mode, named after it."""


def stamp() -> str:
    """Now, UTC, as the names of files set aside carry it."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())


def set_aside_if_unreadable(path: Path) -> QueueRows | None:
    """When SQLite cannot read the file at `path`: move it (and its -wal, -shm) aside, private,
    and return the rows that can still be read from it. None when it is fine or missing."""
    if not path.exists() or _readable(path):
        return None
    aside = path.with_name(f"{path.name}{CORRUPT}{stamp()}")
    for suffix in ("", *LOGS):
        source = Path(f"{path}{suffix}")
        if source.exists():
            os.replace(source, f"{aside}{suffix}")
            os.chmod(f"{aside}{suffix}", FILE_MODE)
    rows = salvage(aside)
    log.error(
        "reply queue file %s could not be read: set aside as %s; %d unfinished job(s) read"
        " from it are queued again",
        path,
        aside.name,
        rows.jobs,
    )
    return rows


def set_aside(path: Path) -> list[Path]:
    """The files set aside from `path` that are still beside it."""
    found = path.parent.glob(f"{path.name}{CORRUPT}*")
    return sorted(p for p in found if not p.name.endswith(LOGS))


def salvage(path: Path) -> QueueRows:
    """What can still be read from an unreadable queue file (nothing when not even that)."""
    try:
        with connect(path, read_only=True) as connection:
            return read_rows(connection, tolerant=True)
    except sqlite3.DatabaseError:
        return QueueRows()


def _readable(path: Path) -> bool:
    try:
        with connect(path) as connection:
            return bool(connection.execute("pragma quick_check").fetchone() == ("ok",))
    except sqlite3.DatabaseError:
        return False
