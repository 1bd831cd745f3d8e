"""Turns at writing one SQLite file, for every thread and process on this host."""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from adapters.state.private import private_file


class WriteTurns:
    """An exclusive turn at writing, taken before a write transaction on a shared SQLite file.

    SQLite lets one writer in at a time, and a connection that finds the file locked sleeps
    1, 2, 5 ... ms before it tries again, though a kefu write holds the lock some 50 µs. Under
    load most of a push's time went to those sleeps. Waiting here instead (a thread lock in the
    process, then `flock` on `lock_file` between processes), the next writer goes in the moment
    the last one is done. The kernel drops a dead process's `flock`, so a killed worker leaves
    no stale turn; the write inside keeps SQLite's own busy timeout.
    """

    def __init__(self, lock_file: Path) -> None:
        self._lock_file = lock_file
        self._mutex = threading.Lock()
        self._fd: int | None = None
        self._pid = 0

    @contextmanager
    def turn(self) -> Iterator[None]:
        with self._mutex:
            fd = self._open()
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def _open(self) -> int:
        # A descriptor inherited across gunicorn's fork would share its lock with the parent's.
        if self._fd is None or self._pid != os.getpid():
            self._fd = os.open(private_file(self._lock_file), os.O_RDWR | os.O_CLOEXEC)
            self._pid = os.getpid()
        return self._fd
