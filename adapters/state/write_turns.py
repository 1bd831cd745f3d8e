"""Turns at writing one SQLite file, for every thread and process on this host."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from adapters.process import current_pid
from adapters.state.private import private_file


class WriteTurns:
    """An exclusive turn at writing, taken before a write transaction on a shared SQLite file.

    SQLite lets one writer in at a time, and a connection that finds the file locked sleeps
    1, 2, 5 ... ms before it tries again, though a kefu write holds the lock some 50 µs. Under
    load most of a push's time went to those sleeps. Waiting here instead (a thread lock in the
    process, then `flock` on `lock_file` between processes), the next writer goes in the moment
    the last one is done. The kernel drops a dead process's `flock`, so a killed worker leaves
    no stale turn; a holder that hangs (stopped, say) costs the others at most `timeout`
    seconds, then TimeoutError, which the store reports as unavailable and its guard carries
    on without. The write inside keeps SQLite's own busy timeout.
    """

    def __init__(
        self,
        lock_file: Path,
        timeout: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._lock_file = lock_file
        self._timeout = timeout
        self._clock, self._sleep = clock, sleep
        self._mutex = threading.Lock()
        self._fd: int | None = None
        self._pid = 0

    @contextmanager
    def turn(self) -> Iterator[None]:
        deadline = self._clock() + self._timeout
        if not self._mutex.acquire(timeout=self._timeout):
            raise TimeoutError(f"no turn at writing {self._lock_file} within {self._timeout} s")
        try:
            fd = self._open()
            self._take(fd, deadline)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            self._mutex.release()

    def _take(self, fd: int, deadline: float) -> None:
        # Tried at once; a turn is held some 50 µs, so short pauses win it soon after it ends.
        pause = 0.00005
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if self._clock() >= deadline:
                    raise TimeoutError(
                        f"no turn at writing {self._lock_file} within {self._timeout} s"
                    ) from None
                self._sleep(pause)
                pause = min(pause * 2, 0.001)

    def _open(self) -> int:
        # A descriptor inherited across gunicorn's fork would share its lock with the parent's.
        if self._fd is None or self._pid != current_pid():
            self._fd = os.open(private_file(self._lock_file), os.O_RDWR | os.O_CLOEXEC)
            self._pid = current_pid()
        return self._fd
