"""Hit statistics in a diskcache folder under KEFU_STATE_DIR, added to by every local worker."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import diskcache

from adapters.stats.calendar import RETENTION_SECONDS, TRACKED_UNMATCHED, day_of, last_days
from domain.errors import KefuError
from domain.stats import TOP_UNMATCHED, DayStats, Hit, counted_as, day_stats, ranked

# One day's counts as stored: rule key -> hits, and unmatched text -> times.
_Day = dict[str, dict[str, int]]


class DiskStatsUnavailable(KefuError):
    """The statistics folder could not be read or written in time."""


class DiskHitStats:
    """One record per day under ``<namespace>:<day>`` in `directory`, updated in a SQLite
    transaction, so that workers adding at once lose no count. Records expire after eight days.
    """

    def __init__(
        self,
        directory: Path,
        namespace: str,
        *,
        busy_timeout: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._directory = Path(directory)
        self._namespace = namespace
        self._busy_timeout = busy_timeout
        self._clock = clock
        self._cache: diskcache.Cache | None = None
        self._pid = 0
        self._opening = threading.Lock()

    def record(self, hit: Hit) -> None:
        """Add hit to today's record. Raises DiskStatsUnavailable."""
        self.record_all((hit,))

    def record_all(self, hits: Sequence[Hit]) -> None:
        """Add hits to today's record in one transaction. Raises DiskStatsUnavailable."""
        key = self._key(day_of(self._clock()))
        try:
            cache = self._open()
            with cache.transact():
                counts: _Day = cache.get(key) or {"hits": {}, "unmatched": {}}
                for hit in hits:
                    _add(counts["hits"], counted_as(hit))
                    _add(counts["unmatched"], hit.unmatched)
                if len(counts["unmatched"]) > TRACKED_UNMATCHED:
                    counts["unmatched"] = dict(ranked(counts["unmatched"], TRACKED_UNMATCHED))
                cache.set(key, counts, expire=RETENTION_SECONDS)
        except (diskcache.Timeout, OSError, sqlite3.Error) as error:
            raise DiskStatsUnavailable(f"statistics folder unavailable: {error}") from error

    def days(self, count: int) -> tuple[DayStats, ...]:
        """The last `count` days, today first. Raises DiskStatsUnavailable."""
        found = []
        try:
            cache = self._open()
            for day in last_days(self._clock(), count):
                counts: _Day = cache.get(self._key(day)) or {"hits": {}, "unmatched": {}}
                found.append((day, counts))
        except (diskcache.Timeout, OSError, sqlite3.Error) as error:
            raise DiskStatsUnavailable(f"statistics folder unavailable: {error}") from error
        return tuple(
            day_stats(day, c["hits"], ranked(c["unmatched"], TOP_UNMATCHED)) for day, c in found
        )

    def close(self) -> None:
        with self._opening:
            if self._cache is not None and self._pid == os.getpid():
                self._cache.close()
            self._cache = None

    def _key(self, day: str) -> str:
        return f"{self._namespace}:{day}"

    def _open(self) -> diskcache.Cache:
        # SQLite connections must not cross a fork: each process opens its own on first use.
        with self._opening:
            if self._cache is None or self._pid != os.getpid():
                self._cache = diskcache.Cache(
                    str(self._directory), timeout=self._busy_timeout, eviction_policy="none"
                )
                self._pid = os.getpid()
            return self._cache


def _add(counts: dict[str, int], name: str | None) -> None:
    if name is not None:
        counts[name] = counts.get(name, 0) + 1
