"""The SQLite queue file: opened only when readable, followed when deleted or replaced."""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from huey.storage import SqliteStorage

from adapters.queue.queue_rows import (
    QueueRows,
    connect,
    make_tables,
    open_connection,
    read_rows,
    write_rows,
)
from adapters.queue.unreadable import LOGS, salvage, set_aside, set_aside_if_unreadable, stamp
from adapters.state.private import private_file, private_folder

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FileIdentity:
    """Which file a path names: two paths (or a path now and then) are one file when equal."""

    device: int
    inode: int


def identity(path: Path) -> FileIdentity | None:
    try:
        found = path.stat()
    except FileNotFoundError:
        return None
    return FileIdentity(found.st_dev, found.st_ino)


@dataclass(frozen=True)
class Followed:
    """The queue file was deleted or replaced while open: what was carried to the new one."""

    at: float
    jobs: int
    deleted: bool


class QueueFile:
    """The queue's file under KEFU_STATE_DIR, as this process has it open.

    `open` makes the file at the path usable before huey opens it: one SQLite cannot read is
    set aside (``replies.db.corrupt-<time>``, mode 0600) with its -wal and -shm, and whatever
    rows can still be read from it are carried into a fresh file. `follow` notices that the path
    no longer names the open file (deleted, or another moved over it): it reads every row the
    open file holds, closes it and carries the rows into the file at the path, so nothing
    queued stays behind in a file no process will open again. Each step runs under a lock
    file, so the processes of one host do it once between them.

    `open_once` opens the file unless this process already has: a file that could not be
    opened at start (the disk read-only or full) is tried again by the queue's next use, so a
    worker starting then still starts, and serves, instead of stopping the whole service.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.opened: FileIdentity | None = None
        self.followed: Followed | None = None
        self._mutex = threading.Lock()
        self._opening = threading.Lock()  # never held while waiting for a storage's lock
        self._salvaged: dict[Path, int] = {}
        self._pending: QueueRows | None = None  # read from a file gone, not carried yet
        self._pin: sqlite3.Connection | None = None

    def open(self) -> None:
        """Make the file at the path usable and note it as the one open. Raises OSError or
        sqlite3.Error (then nothing is noted, and the next `open_once` tries again)."""
        private_folder(self.path.parent)
        with self._host_lock() as lock:
            try:
                self._open(lock)
            except BaseException:
                self.opened = None
                raise

    def open_once(self) -> None:
        """`open`, unless done already (then no more than a look at one attribute)."""
        if self.opened is not None:
            return
        with self._opening:
            if self.opened is None:
                self.open()

    def _open(self, lock: BinaryIO) -> None:
        self._move_stale_logs(_owner(lock))
        rows = set_aside_if_unreadable(self.path)
        private_file(self.path)
        with connect(self.path) as connection:  # closed at once: the tables reach the file
            make_tables(connection)
        pin = _pinned(self.path)
        self.opened = identity(self.path)
        previous, self._pin = self._pin, pin
        if previous is not None:
            previous.close()  # on a file gone: SQLite neither checkpoints nor deletes its -wal
        _own(lock, self.opened)
        if rows is not None:
            self._carry(rows, marker=f"salvaged:{time.time_ns()}")

    def close(self) -> None:
        """Let go of the file (at exit); the storages close their own connections."""
        with self._mutex:
            pin, self._pin = self._pin, None
        if pin is not None:
            pin.close()

    @property
    def current(self) -> bool:
        """Whether the path still names the file this process has open (one stat)."""
        return self.opened is not None and identity(self.path) == self.opened

    def set_aside_report(self) -> list[str]:
        """Each file set aside with how many jobs were read from it, as readiness and
        `kefu dead-letters` name them."""
        return [f"{path.name} ({self.salvaged(path)} job(s) read)" for path in set_aside(self.path)]

    def salvaged(self, aside: Path) -> int:
        """How many unfinished jobs could be read from a file set aside (read once)."""
        if aside not in self._salvaged:
            self._salvaged[aside] = salvage(aside).jobs
        return self._salvaged[aside]

    def follow(self, storages: Sequence[SqliteStorage]) -> Followed | None:
        """When the path no longer names the open file: carry its rows to the one at the path
        and open that. None when nothing had to be done. Raises sqlite3.Error or OSError."""
        if self.opened is None:  # never opened, so nothing was written to a file gone
            self.open_once()
            return None
        if self.current:
            return None
        with self._mutex:
            if self.current:
                return None
            old, deleted = self.opened, identity(self.path) is None
            with _holding(storages), self._host_lock() as lock:
                # Kept until carried: should carrying fail (a full disk), the next try has them.
                rows = self._pending = self._pending or _rows_of_open_file(storages)
                for storage in storages:
                    # huey's own close() takes the lock held here; closing a connection to a
                    # moved file never checkpoints into, or deletes, the -wal at the path.
                    if storage._conn is not None:
                        storage._conn.close()
                        storage._conn = None
                marker = f"carried:{old.device}:{old.inode}" if old else "carried"
                try:
                    self._open(lock)
                    jobs = self._carry(rows, marker)
                except BaseException:
                    self.opened = old  # not followed yet: the next look tries again
                    raise
                self._pending = None
            self.followed = Followed(time.time(), jobs, deleted)
        how = "deleted" if deleted else "replaced"
        log.error(
            "reply queue file %s was %s while open: %d unfinished job(s) carried to the file now"
            " at that path",
            self.path,
            how,
            jobs,
        )
        return self.followed

    def _carry(self, rows: QueueRows, marker: str) -> int:
        """Rows into the file at the path, once per host for a given marker (the host lock is
        held); how many journalled jobs they hold."""
        with connect(self.path) as connection:
            return write_rows(connection, rows, marker)

    def _move_stale_logs(self, owner: FileIdentity | None) -> None:
        # NOTE: the -wal of a deleted or replaced file would be read as the new file's own
        # (SQLite links them by name only), so it goes aside; processes still on the old file
        # keep theirs open. The lock file names the file the -wal belongs to.
        found = identity(self.path)
        if (found is not None and found == owner) or (owner is None and found is not None):
            return
        for suffix in LOGS:
            stale = Path(f"{self.path}{suffix}")
            if stale.exists():
                os.replace(stale, f"{self.path}.deleted-{stamp()}{suffix}")

    @contextmanager
    def _host_lock(self) -> Iterator[BinaryIO]:
        lock = private_file(self.path.with_name(f"{self.path.name}.lock"))
        with lock.open("r+b") as held:
            fcntl.flock(held, fcntl.LOCK_EX)
            yield held


def _pinned(path: Path) -> sqlite3.Connection:
    """A connection held open on the file for as long as it is the one open. While a file is
    open its inode number cannot go to another file, so a new file at the path never passes
    for the old one (which it would, with the old one deleted and its number reused, once no
    storage of this process had a connection to it)."""
    connection = open_connection(path)
    try:
        connection.execute("pragma schema_version").fetchone()
    except BaseException:
        connection.close()
        raise
    return connection


def _owner(lock: BinaryIO) -> FileIdentity | None:
    """The queue file the -wal at the path belongs to, as the lock file records it."""
    lock.seek(0)
    device, _, inode = lock.read().decode("ascii", "replace").partition(":")
    if not (device.isdigit() and inode.isdigit()):
        return None
    return FileIdentity(int(device), int(inode))


def _own(lock: BinaryIO, owner: FileIdentity | None) -> None:
    if owner is not None:
        lock.seek(0)
        lock.truncate()
        lock.write(f"{owner.device}:{owner.inode}".encode("ascii"))
        lock.flush()


def _rows_of_open_file(storages: Sequence[SqliteStorage]) -> QueueRows:
    """Read through a connection already open (a new one would open the file at the path)."""
    for storage in storages:
        if storage._conn is not None:
            return read_rows(storage._conn)
    return QueueRows()


@contextmanager
def _holding(storages: Sequence[SqliteStorage]) -> Iterator[None]:
    """Every storage's lock: no thread of this process touches the file meanwhile."""
    with ExitStack() as stack:
        for storage in storages:
            stack.enter_context(storage.lock)
        yield
