"""A state store that, once its backend fails, fails fast for a while instead of timing out."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import TypeVar

from domain.errors import KefuError
from domain.ports import StateStore

log = logging.getLogger(__name__)
T = TypeVar("T")

# NOTE: each caller (claims, the token, media ids) already carries on without the store; what
# an unreachable Redis must not cost is its socket timeout on every call of every push, which
# would push answers past WeChat's 5 seconds and bring its retries.
RETRY_AFTER = 30.0


class StateStoreDown(KefuError):
    """The store failed recently and is not being asked again yet."""


class GuardedStateStore:
    """Wraps a StateStore; after a failure every call fails at once for `retry_after` seconds."""

    def __init__(
        self,
        store: StateStore,
        retry_after: float = RETRY_AFTER,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._retry_after = retry_after
        self._clock = clock
        self._down_until: float | None = None
        self._mutex = threading.Lock()

    def add(self, key: str, value: str, ttl: float) -> bool:
        return self._call(lambda: self._store.add(key, value, ttl))

    def get(self, key: str) -> str | None:
        return self._call(lambda: self._store.get(key))

    def set(self, key: str, value: str, ttl: float) -> None:
        self._call(lambda: self._store.set(key, value, ttl))

    def delete(self, key: str) -> None:
        self._call(lambda: self._store.delete(key))

    @contextmanager
    def lock(self, name: str, timeout: float) -> Iterator[bool]:
        with ExitStack() as stack:
            held = self._call(lambda: stack.enter_context(self._store.lock(name, timeout)))
            yield held

    def _call(self, action: Callable[[], T]) -> T:
        self._check()
        try:
            result = action()
        except KefuError as failure:
            self._trip(failure)
            raise
        self._recovered()
        return result

    def _check(self) -> None:
        with self._mutex:
            down_until = self._down_until
        if down_until is not None and self._clock() < down_until:
            raise StateStoreDown("state store failed recently; not asked again yet")

    def _trip(self, failure: KefuError) -> None:
        with self._mutex:
            first = self._down_until is None
            self._down_until = self._clock() + self._retry_after
        if first:
            log.warning(
                "state store unavailable (%s); not asked for %g s", failure, self._retry_after
            )

    def _recovered(self) -> None:
        with self._mutex:
            was_down, self._down_until = self._down_until is not None, None
        if was_down:
            log.info("state store available again")
