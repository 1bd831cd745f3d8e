"""State store in a diskcache directory, shared by every process on one host."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import diskcache

from adapters.state.locks import LOCK_TTL, TokenLocks, check_ttl
from adapters.state.stored import StoredValues
from adapters.state.text_cache import TextCache
from adapters.state.write_turns import WriteTurns
from domain.errors import KefuError

WRITE_LOCK = "writes.lock"


class DiskStateUnavailable(KefuError):
    """The state directory could not be read or written in time (busy, missing, read-only)."""

    def __init__(self, directory: Path, reason: str) -> None:
        super().__init__(f"state directory {str(directory)!r} unavailable: {reason}")
        self.directory = directory
        self.reason = reason


class DiskStateStore:
    """Shared state under `directory` (KEFU_STATE_DIR), safe across threads and processes.

    Every operation is one SQLite transaction inside diskcache, so `add` is atomic between
    gunicorn workers. Values are text kept in the database (never pickles), in a folder and
    file only this user can read. Locks live under ``lock:<name>`` and expire after
    ``max(timeout, lock_ttl)`` seconds, so a crashed holder blocks the others at most that long.
    """

    def __init__(
        self,
        directory: Path,
        *,
        busy_timeout: float = 5.0,
        lock_ttl: float = LOCK_TTL,
        poll_interval: float = 0.01,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        random_bytes: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self._directory = Path(directory)
        self._cache = TextCache(self._directory, busy_timeout)
        self._values = StoredValues(f"state store in {self._directory}")
        self._turns = WriteTurns(self._directory / WRITE_LOCK, timeout=busy_timeout)
        self._locks = TokenLocks(
            self.add, self._delete_if, lock_ttl, poll_interval, clock, sleep, random_bytes
        )

    def add(self, key: str, value: str, ttl: float) -> bool:
        """Set key only when absent (or expired); True when this call set it."""
        check_ttl(ttl)
        with self._writing() as cache:
            return bool(cache.add(key, value, expire=ttl))

    def get(self, key: str) -> str | None:
        with self._guard() as cache:
            value = cache.get(key)
        return self._values.text(value, "state value")

    def set(self, key: str, value: str, ttl: float) -> None:
        check_ttl(ttl)
        with self._writing() as cache:
            cache.set(key, value, expire=ttl)

    def delete(self, key: str) -> None:
        with self._writing() as cache:
            cache.delete(key)

    def lock(self, name: str, timeout: float) -> AbstractContextManager[bool]:
        """Wait up to `timeout` seconds for the lock; yield whether it is held."""
        return self._locks.hold(name, timeout)

    def close(self) -> None:
        """Close this process's connection; the next call opens a new one."""
        self._cache.close()

    def _delete_if(self, key: str, token: str) -> None:
        # The lock may have expired and been won by someone else: leave theirs alone.
        with self._writing() as cache, cache.transact():
            if self._values.text(cache.get(key), "lock") == token:
                cache.delete(key)

    @contextmanager
    def _writing(self) -> Iterator[diskcache.Cache]:
        with self._guard() as cache, self._turns.turn():
            yield cache

    @contextmanager
    def _guard(self) -> Iterator[diskcache.Cache]:
        try:
            yield self._cache.open()
        except diskcache.Timeout as error:
            raise DiskStateUnavailable(self._directory, "database busy") from error
        except (OSError, sqlite3.Error) as error:
            raise DiskStateUnavailable(self._directory, str(error)) from error
