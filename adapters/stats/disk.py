"""Hit statistics in a diskcache folder under KEFU_STATE_DIR, added to by every local worker."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import diskcache

from adapters.state.stored import StoredValues
from adapters.state.text_cache import TextCache
from adapters.stats.calendar import (
    ASKERS_KEPT,
    ASKERS_SECONDS,
    RETENTION_SECONDS,
    TRACKED_UNMATCHED,
    day_of,
    last_days,
)
from adapters.stats.day_record import DayRecord
from domain.errors import KefuError
from domain.stats import DayStats, Hit, counted_as


class DiskStatsUnavailable(KefuError):
    """The statistics folder could not be read or written in time."""


class DiskHitStats:
    """One record per day under ``<namespace>:<day>`` in `directory`, updated in a SQLite
    transaction, so that workers adding at once lose no count; beside it, a row per asker of an
    unmatched text (``<namespace>:<day>:asker:<hash>``, kept two days). Days expire after eight.

    The folder is kept as the state is (`TextCache`): private, text only, never unpickled.
    """

    def __init__(
        self,
        directory: Path,
        namespace: str,
        *,
        busy_timeout: float = 5.0,
        clock: Callable[[], float] = time.time,
        askers_kept: int = ASKERS_KEPT,
    ) -> None:
        self._cache = TextCache(directory, busy_timeout)
        self._namespace = namespace
        self._clock = clock
        self._askers_kept = askers_kept
        self._values = StoredValues(f"statistics in {self._cache.directory}")

    def record(self, hit: Hit) -> None:
        """Add hit to today's record. Raises DiskStatsUnavailable."""
        self.record_all((hit,))

    def record_all(self, hits: Sequence[Hit]) -> None:
        """Add hits to today's record in one transaction. Raises DiskStatsUnavailable."""
        key = self._key(day_of(self._clock()))
        try:
            cache = self._cache.open()
            with cache.transact():
                record = self._read(cache, key)
                for hit in hits:
                    record.count_hit(counted_as(hit))
                    if hit.unmatched is not None and self._first_ask(cache, key, record, hit):
                        record.count_unmatched(hit.unmatched)
                record.keep_most_frequent(TRACKED_UNMATCHED)
                cache.set(key, record.to_json(), expire=RETENTION_SECONDS)
        except (diskcache.Timeout, OSError, sqlite3.Error) as error:
            raise DiskStatsUnavailable(f"statistics folder unavailable: {error}") from error

    def days(self, count: int) -> tuple[DayStats, ...]:
        """The last `count` days, today first. Raises DiskStatsUnavailable."""
        try:
            cache = self._cache.open()
            found = [
                (day, self._read(cache, self._key(day))) for day in last_days(self._clock(), count)
            ]
        except (diskcache.Timeout, OSError, sqlite3.Error) as error:
            raise DiskStatsUnavailable(f"statistics folder unavailable: {error}") from error
        return tuple(record.day_stats(day) for day, record in found)

    def close(self) -> None:
        self._cache.close()

    def _first_ask(self, cache: diskcache.Cache, key: str, record: DayRecord, hit: Hit) -> bool:
        """Whether hit's text is to be counted: its asker's first time today, within bounds."""
        if hit.asker is None:
            return True
        if record.askers >= self._askers_kept:
            return False
        first = bool(cache.add(f"{key}:asker:{hit.asker}", "", expire=ASKERS_SECONDS))
        record.askers += first
        return first

    def _read(self, cache: diskcache.Cache, key: str) -> DayRecord:
        raw = self._values.text(cache.get(key), "day of counts")
        return DayRecord.from_json(raw, self._values)

    def _key(self, day: str) -> str:
        return f"{self._namespace}:{day}"
