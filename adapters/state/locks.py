"""The token lock every state store shares: take it by `add`, give it back by compare-and-delete."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import partial
from typing import Protocol

from domain.ports import StateStore

LOCK_TTL = 10.0
"""Seconds a lock outlives a holder that never releases it (at least the caller's timeout)."""


class LockingStore(StateStore, Protocol):
    """A state store that also holds short locks across processes (adapters use them)."""

    def lock(self, name: str, timeout: float) -> AbstractContextManager[bool]:
        """Wait up to `timeout` seconds for the lock; yield whether it is held."""
        ...


class TokenLocks:
    """Locks under the key ``lock:<name>``, each holding a random token until released.

    A lock is taken by `add` of the token, retried every `poll_interval` seconds until the
    caller's timeout, and lives ``max(timeout, lock_ttl)`` seconds, so a holder that dies
    without releasing blocks the others at most that long. `delete_if(key, token)` gives it
    back only while it still holds this token: the store makes that one atomic step.
    """

    def __init__(
        self,
        add: Callable[[str, str, float], bool],
        delete_if: Callable[[str, str], None],
        lock_ttl: float,
        poll_interval: float,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
        random_bytes: Callable[[int], bytes],
    ) -> None:
        self._add, self._delete_if = add, delete_if
        self._lock_ttl, self._poll_interval = lock_ttl, poll_interval
        self._clock, self._sleep, self._random_bytes = clock, sleep, random_bytes

    @contextmanager
    def hold(self, name: str, timeout: float) -> Iterator[bool]:
        """Wait up to `timeout` seconds for the lock; yield whether it is held."""
        key, token = f"lock:{name}", self._random_bytes(16).hex()
        attempt = partial(self._add, key, token, max(timeout, self._lock_ttl))
        held = poll_until(attempt, timeout, self._clock, self._sleep, self._poll_interval)
        try:
            yield held
        finally:
            if held:
                self._delete_if(key, token)


def check_ttl(ttl: float) -> None:
    if ttl <= 0:
        raise ValueError(f"ttl must be positive seconds, got {ttl!r}")


def poll_until(
    attempt: Callable[[], bool],
    timeout: float,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    interval: float,
) -> bool:
    """Call attempt until it succeeds or `timeout` seconds have passed; whether it succeeded."""
    deadline = clock() + timeout
    while not attempt():
        if clock() >= deadline:
            return False
        sleep(interval)
    return True
