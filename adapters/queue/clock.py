"""The reply queue's clock: wall-clock seconds that move only as the monotonic clock does."""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable


class SteadyClock:
    """Seconds since the epoch as they were at start, advanced by the monotonic clock since.

    Retries are due by it, leases expire by it and the oldest job's age is read from it, so a
    wall clock set back an hour neither holds a retry for an hour, nor does one set forward fire
    every scheduled retry at once. A job's 48-hour window stays on the wall clock (the domain's
    quotas compare WeChat's CreateTime with `time.time`). Processes started after a jump see a
    clock that differs by the jump: leases and retries they read are off by as much, once.
    """

    def __init__(
        self,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._monotonic = monotonic
        self._start = wall() - monotonic()

    def __call__(self) -> float:
        return self._start + self._monotonic()

    def utc(self, delay: float = 0.0) -> datetime.datetime:
        """Now (plus `delay` seconds) as a UTC datetime, the way huey keeps its schedule."""
        return datetime.datetime.fromtimestamp(self() + delay, datetime.UTC)
