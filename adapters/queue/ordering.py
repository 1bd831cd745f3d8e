"""Per-user leases in the shared state: one job per user runs at a time, on any host."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from domain.errors import KefuError
from domain.ports import StateStore

log = logging.getLogger(__name__)


class UserLeases:
    """A lease per user under ``lease:user:<openid>``, holding the runner's token until it is
    released or, if its holder died, until `ttl` seconds after its last renewal.

    While one job for a user runs, the user's next job waits, so replies keep the order of the
    messages; two copies of one job can never run at once either. A store that fails grants the
    lease (a reply matters more than its order), and says so in the log.
    """

    def __init__(
        self,
        store: StateStore,
        *,
        poll_interval: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._store = store
        self._poll_interval = poll_interval
        self._clock = clock
        self._sleep = sleep

    def acquire(self, user: str, token: str, ttl: float, wait: float) -> bool:
        """Take the user's lease, waiting up to `wait` seconds; whether it was taken."""
        deadline = self._clock() + wait
        while True:
            try:
                if self._store.add(_key(user), token, ttl):
                    return True
            except KefuError as failure:
                log.warning("cannot take a user's lease, sending unordered: %s", failure)
                return True
            if self._clock() >= deadline:
                return False
            self._sleep(self._poll_interval)

    def renew(self, user: str, token: str, ttl: float) -> None:
        """Extend the lease while this token still holds it."""
        try:
            if self._store.get(_key(user)) == token:
                self._store.set(_key(user), token, ttl)
        except KefuError as failure:
            log.warning("cannot renew a user's lease: %s", failure)

    def release(self, user: str, token: str) -> None:
        """Give the lease back, unless it lapsed and someone else holds it now."""
        try:
            if self._store.get(_key(user)) == token:
                self._store.delete(_key(user))
        except KefuError as failure:
            log.warning("cannot release a user's lease (it lapses by itself): %s", failure)


def _key(user: str) -> str:
    return f"lease:user:{user}"
