"""The one policy for a failing state store: carry on as if it were empty, and fail fast."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TypeVar

from adapters.metrics.definitions import STATE_STORE_FAILURES
from adapters.state.locks import LockingStore
from domain.errors import KefuError

log = logging.getLogger(__name__)
T = TypeVar("T")

# NOTE: what an unreachable Redis must not cost is its socket timeout on every call of every
# push (answers past WeChat's 5 seconds bring its retries); what a recovered one must not cost
# is a long wait before claims are shared again. So one caller probes every few seconds.
PROBE_EVERY = 2.0


class GuardedStateStore:
    """Wraps a store so that its failures never reach the callers; they see an empty store.

    A failed call answers as an empty store would: `get` None, `add` True (the caller owns the
    key: a push is handled rather than lost), `set` and `delete` nothing, `lock` not won. While
    the store is down, calls do not reach it, except one probe every `probe_every` seconds; the
    first success closes the outage. One warning when an outage starts, one line when it ends.
    """

    def __init__(
        self,
        store: LockingStore,
        probe_every: float = PROBE_EVERY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._probe_every = probe_every
        self._clock = clock
        self._mutex = threading.Lock()
        self._down = False
        self._last_failure: str | None = None
        self._next_probe = 0.0
        self._probing = False

    @property
    def available(self) -> bool:
        """False while an outage is going on (for readiness checks)."""
        return not self._down

    @property
    def last_failure(self) -> str | None:
        """What the latest failed call said (it names the store, never a value kept in it)."""
        return self._last_failure

    def probe(self) -> bool:
        """Ask the store once now, unless a probe ran within the last few seconds; True if up."""
        self._call(lambda: self._store.get("probe"), None)
        return self.available

    def add(self, key: str, value: str, ttl: float) -> bool:
        return self._call(lambda: self._store.add(key, value, ttl), True)

    def get(self, key: str) -> str | None:
        return self._call(lambda: self._store.get(key), None)

    def set(self, key: str, value: str, ttl: float) -> None:
        self._call(lambda: self._store.set(key, value, ttl), None)

    def delete(self, key: str) -> None:
        self._call(lambda: self._store.delete(key), None)

    @contextmanager
    def lock(self, name: str, timeout: float) -> Iterator[bool]:
        held: AbstractContextManager[bool] | None = None

        def take() -> bool:
            nonlocal held
            candidate = self._store.lock(name, timeout)
            won = candidate.__enter__()
            held = candidate
            return won

        won = self._call(take, False)
        try:
            yield won
        finally:
            if held is not None:
                # A lock that cannot be given back lapses by itself; the body's outcome stands.
                self._call(lambda: held.__exit__(None, None, None), None)

    def _call(self, action: Callable[[], T], when_down: T) -> T:
        if not self._may_call():
            return when_down
        try:
            result = action()
        except KefuError as failure:
            self._failed(failure)
            return when_down
        self._succeeded()
        return result

    def _may_call(self) -> bool:
        with self._mutex:
            if not self._down:
                return True
            if self._probing or self._clock() < self._next_probe:
                return False
            self._probing = True
            return True

    def _failed(self, failure: KefuError) -> None:
        STATE_STORE_FAILURES.inc()
        with self._mutex:
            self._last_failure = str(failure)
            starts, self._down, self._probing = not self._down, True, False
            self._next_probe = self._clock() + self._probe_every
        if starts:
            # The store's errors name the store (path, host), never the values kept in it.
            log.warning(
                "state store unavailable (%s); carrying on without it, trying again every %g s",
                failure,
                self._probe_every,
            )

    def _succeeded(self) -> None:
        with self._mutex:
            ended, self._down, self._probing = self._down, False, False
        if ended:
            log.info("state store available again")
