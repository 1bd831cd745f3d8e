"""Hit statistics in a diskcache folder under KEFU_STATE_DIR, added to by every local worker."""

from __future__ import annotations

import sqlite3
import threading
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
from adapters.stats.disk_askers import DayAskers, joined
from domain.errors import KefuError
from domain.stats import DayStats, Hit, counted_as


class DiskStatsUnavailable(KefuError):
    """The statistics folder could not be read or written in time."""


class DiskHitStats:
    """One record per day under ``<namespace>:<day>`` in `directory`, updated in a SQLite
    transaction, so that workers adding at once lose no count; beside it, the askers of its
    unmatched texts, a row per write that met new ones (``<namespace>:<day>:askers:<n>``, kept
    two days; the record says how many rows), each process keeping in memory those it read
    (`DayAskers`, bounded as the day's askers are). Days expire after eight.

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
        self._askers = DayAskers("")
        self._writing = threading.Lock()  # one write at a time keeps `_askers` in step

    def record(self, hit: Hit) -> None:
        """Add hit to today's record. Raises DiskStatsUnavailable."""
        self.record_all((hit,))

    def record_all(self, hits: Sequence[Hit]) -> None:
        """Add hits to today's record in one transaction. Raises DiskStatsUnavailable."""
        key = self._key(day_of(self._clock()))
        with self._writing:
            try:
                cache = self._cache.open()
                with cache.transact():
                    record = self._read(cache, key)
                    askers = self._askers_caught_up(cache, key, record)
                    new = self._count(hits, record, askers)
                    if new:
                        row = f"{key}:askers:{record.asker_rows}"
                        cache.set(row, joined(new), expire=ASKERS_SECONDS)
                        record.asker_rows += 1
                    record.keep_most_frequent(TRACKED_UNMATCHED)
                    cache.set(key, record.to_json(), expire=RETENTION_SECONDS)
            except (diskcache.Timeout, OSError, sqlite3.Error) as error:
                raise DiskStatsUnavailable(f"statistics folder unavailable: {error}") from error
            askers.remember(new, record.asker_rows)  # committed: the store holds them now

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

    def _askers_caught_up(self, cache: diskcache.Cache, key: str, record: DayRecord) -> DayAskers:
        """The day's askers as the store holds them, reading only the rows new since the last
        write here: the other processes' (a new day, or a record written afresh, from none)."""
        askers = self._askers
        if askers.key != key or askers.rows > record.asker_rows:
            askers = self._askers = DayAskers(key)
        askers.catch_up(record.asker_rows, lambda n: self._row(cache, f"{key}:askers:{n}"))
        return askers

    def _count(self, hits: Sequence[Hit], record: DayRecord, askers: DayAskers) -> list[str]:
        """Count hits in record, an unmatched text once a day per asker, within the bound on
        askers; the askers met for the first time, in order."""
        new: list[str] = []
        met: set[str] = set()  # first met in this batch: not in `askers` until committed
        for hit in hits:
            record.count_hit(counted_as(hit))
            if hit.unmatched is None:
                continue
            if hit.asker is not None:
                if hit.asker in met or not askers.is_new(hit.asker):
                    continue
                if record.askers >= self._askers_kept:
                    continue
                met.add(hit.asker)
                new.append(hit.asker)
                record.askers += 1
            record.count_unmatched(hit.unmatched)
        return new

    def _row(self, cache: diskcache.Cache, key: str) -> str | None:
        return self._values.text(cache.get(key), "row of askers")

    def _read(self, cache: diskcache.Cache, key: str) -> DayRecord:
        raw = self._values.text(cache.get(key), "day of counts")
        return DayRecord.from_json(raw, self._values)

    def _key(self, day: str) -> str:
        return f"{self._namespace}:{day}"
