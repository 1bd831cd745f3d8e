"""The one way kefu keeps a diskcache: private folder and file, text only, one per process."""

from __future__ import annotations

import threading
from pathlib import Path

import diskcache
from diskcache.core import DBNAME

from adapters.process import current_pid
from adapters.state.private import private_database
from adapters.state.text_disk import TextOnlyDisk


class TextCache:
    """A diskcache folder, opened in each process on first use and kept open until `close`.

    SQLite connections must not cross a fork (gunicorn may build the app in the master), so a
    process that inherited an open cache opens its own. The database is created 0600 in a 0700
    folder before SQLite sees it, so its -wal and -shm files get the same mode; values are text
    in the rows themselves (`TextOnlyDisk`), nothing is evicted but what expires.
    """

    def __init__(self, directory: Path, busy_timeout: float) -> None:
        self.directory = Path(directory)
        self._busy_timeout = busy_timeout
        self._cache: diskcache.Cache | None = None
        self._pid = 0
        self._opening = threading.Lock()

    def open(self) -> diskcache.Cache:
        """This process's cache. Raises OSError, sqlite3.Error or diskcache.Timeout."""
        cache, pid = self._cache, current_pid()
        if cache is not None and self._pid == pid:
            return cache
        with self._opening:
            if self._cache is None or self._pid != pid:
                private_database(self.directory, DBNAME)
                self._cache = diskcache.Cache(
                    str(self.directory),
                    timeout=self._busy_timeout,
                    eviction_policy="none",
                    disk=TextOnlyDisk,
                )
                self._pid = pid
            return self._cache

    @property
    def is_open(self) -> bool:
        return self._cache is not None

    def close(self) -> None:
        """Close this process's connection; the next `open` opens a new one."""
        with self._opening:
            if self._cache is not None and self._pid == current_pid():
                self._cache.close()
            self._cache = None
