"""Every row of a SQLite queue file, read from one file and written into another."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from huey.storage import SqliteStorage

MARKERS = "kefu-queue-file"
"""The kv namespace recording which carries a file has taken in, so each is taken once."""
Row = tuple[object, ...]
_TABLES = {
    "kv": "queue, key, value",
    "task": "queue, data, priority",
    "schedule": "queue, data, timestamp",
}


@dataclass(frozen=True)
class QueueRows:
    """The rows of huey's tables (kv: journal, dead letters, latest jobs; task; schedule)."""

    kv: tuple[Row, ...] = ()
    task: tuple[Row, ...] = ()
    schedule: tuple[Row, ...] = ()

    @property
    def jobs(self) -> int:
        """Unfinished jobs among them: one journal entry each."""
        return sum(1 for row in self.kv if str(row[0]).endswith("-journal"))


def open_connection(path: Path, read_only: bool = False) -> sqlite3.Connection:
    """A connection of its own to a queue file, in autocommit, usable from any thread."""
    uri = f"file:{path}?mode=ro" if read_only else f"file:{path}"
    return sqlite3.connect(uri, uri=True, timeout=5, isolation_level=None, check_same_thread=False)


@contextmanager
def connect(path: Path, read_only: bool = False) -> Iterator[sqlite3.Connection]:
    """A connection of its own to a queue file, closed afterwards."""
    connection = open_connection(path, read_only)
    try:
        yield connection
    finally:
        connection.close()


def read_rows(connection: sqlite3.Connection, tolerant: bool = False) -> QueueRows:
    """Every row; `tolerant` keeps what was read before an error (a corrupt file)."""
    found = {table: tuple(_rows(connection, table, tolerant)) for table in _TABLES}
    kv = tuple(row for row in found["kv"] if row[0] != MARKERS)
    return QueueRows(kv, found["task"], found["schedule"])


def _rows(connection: sqlite3.Connection, table: str, tolerant: bool) -> Iterator[Row]:
    try:
        yield from connection.execute(f"select {_TABLES[table]} from {table}")
    except sqlite3.DatabaseError:
        if not tolerant:
            raise


def make_tables(connection: sqlite3.Connection) -> None:
    """huey's tables, in WAL mode, in a file that lacks them (each statement "if not exists")."""
    connection.execute("pragma journal_mode=wal")
    for statement in SqliteStorage.ddl:
        connection.execute(statement)


def write_rows(connection: sqlite3.Connection, rows: QueueRows, marker: str) -> int:
    """The rows into the file, in one transaction, unless `marker` says they were already;
    a key the file holds keeps its value there. How many unfinished jobs were carried (by this
    call or by the one that wrote the marker)."""
    make_tables(connection)
    connection.execute("begin exclusive")
    try:
        done = connection.execute(
            "select value from kv where queue = ? and key = ?", (MARKERS, marker)
        ).fetchone()
        if done is None:
            connection.executemany("insert or ignore into kv values (?, ?, ?)", rows.kv)
            for table in ("task", "schedule"):
                insert = f"insert into {table} ({_TABLES[table]}) values (?, ?, ?)"
                connection.executemany(insert, getattr(rows, table))
            carried = str(rows.jobs).encode()
            connection.execute("insert into kv values (?, ?, ?)", (MARKERS, marker, carried))
    except BaseException:
        connection.execute("rollback")
        raise
    connection.execute("commit")
    return rows.jobs if done is None else int(bytes(done[0]))
