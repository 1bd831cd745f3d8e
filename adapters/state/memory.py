"""State store in this process's memory: for tests and single-worker runs."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager

from adapters.state.locks import LOCK_TTL, TokenLocks, check_ttl


class MemoryStateStore:
    """A dict with expiry, shared by the threads of one process only.

    Locks live under the key ``lock:<name>`` and expire after ``max(timeout, lock_ttl)``
    seconds, so a holder that dies without releasing blocks the others at most that long.
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        *,
        lock_ttl: float = LOCK_TTL,
        poll_interval: float = 0.01,
        sleep: Callable[[float], None] = time.sleep,
        random_bytes: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self._clock = clock
        self._items: dict[str, tuple[str, float]] = {}
        self._mutex = threading.Lock()
        self._sweep_at = 1024
        self._locks = TokenLocks(
            self.add, self._delete_if, lock_ttl, poll_interval, clock, sleep, random_bytes
        )

    def add(self, key: str, value: str, ttl: float) -> bool:
        """Set key only when absent (or expired); True when this call set it."""
        check_ttl(ttl)
        with self._mutex:
            if self._live(key) is not None:
                return False
            self._store(key, value, ttl)
            return True

    def get(self, key: str) -> str | None:
        with self._mutex:
            return self._live(key)

    def set(self, key: str, value: str, ttl: float) -> None:
        check_ttl(ttl)
        with self._mutex:
            self._store(key, value, ttl)

    def delete(self, key: str) -> None:
        with self._mutex:
            self._items.pop(key, None)

    def lock(self, name: str, timeout: float) -> AbstractContextManager[bool]:
        """Wait up to `timeout` seconds for the lock; yield whether it is held."""
        return self._locks.hold(name, timeout)

    def _delete_if(self, key: str, token: str) -> None:
        # The lock may have expired and been won by someone else: leave theirs alone.
        with self._mutex:
            if self._live(key) == token:
                del self._items[key]

    def _store(self, key: str, value: str, ttl: float) -> None:
        now = self._clock()
        self._items[key] = (value, now + ttl)
        if len(self._items) >= self._sweep_at:  # expired keys nobody reads again
            self._items = {k: item for k, item in self._items.items() if item[1] > now}
            self._sweep_at = max(1024, 2 * len(self._items))

    def _live(self, key: str) -> str | None:
        item = self._items.get(key)
        if item is None:
            return None
        value, expires_at = item
        if expires_at <= self._clock():
            del self._items[key]
            return None
        return value
