"""Counting off the push's path: hits go to a queue, one thread per process stores them."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence
from typing import Protocol

from adapters.process import current_pid
from domain.ports import HitStats
from domain.stats import DayStats, Hit

log = logging.getLogger(__name__)

CAPACITY = 10_000
"""Hits waiting to be stored; beyond this they are dropped rather than slow a push."""
BATCH = 1_000
"""Most hits stored in one write: under load, one transaction instead of one per push."""
GATHER = 0.1
"""Seconds the thread lets hits gather after the first, so one write stores many."""


class HitStore(HitStats, Protocol):
    def record_all(self, hits: Sequence[Hit]) -> None:
        """Count every hit in one write. Raises KefuError."""
        ...


class BackgroundHitStats:
    """record() only queues the hit; a daemon thread (started in each process on first use,
    so it survives gunicorn's fork) stores it. A failing store is logged once, never raised."""

    def __init__(self, store: HitStore, capacity: int = CAPACITY, gather: float = GATHER) -> None:
        self._store = store
        self._gather = gather
        self._capacity = capacity
        self._queue: queue.Queue[Hit | None] | None = None
        self._worker: threading.Thread | None = None
        self._pid = 0
        self._starting = threading.Lock()
        self._warned = False

    def record(self, hit: Hit) -> None:
        """Queue hit for storing; never blocks, never raises."""
        try:
            self._started().put_nowait(hit)
        except queue.Full:
            self._warn_once("queue full, hits dropped")

    def days(self, count: int) -> tuple[DayStats, ...]:
        return self._store.days(count)

    def flush(self) -> None:
        """Wait until every hit queued so far is stored (or failed)."""
        if self._queue is not None and self._pid == current_pid():
            self._queue.join()

    def close(self, timeout: float = 2.0) -> None:
        """Store what is queued and stop the thread, waiting at most `timeout` seconds (at exit)."""
        with self._starting:
            hits, worker = self._queue, self._worker
            if hits is None or worker is None or self._pid != current_pid():
                return
            self._queue = self._worker = None
        try:
            hits.put(None, timeout=timeout)
        except queue.Full:
            self._warn_once("still storing at exit, hits dropped")
            return
        worker.join(timeout)

    def _started(self) -> queue.Queue[Hit | None]:
        running = self._queue
        if running is not None and self._pid == current_pid():  # every push after the first
            return running
        with self._starting:
            if self._queue is None or self._pid != current_pid():
                self._queue = queue.Queue(self._capacity)
                self._pid = current_pid()
                self._worker = threading.Thread(
                    target=self._drain, args=(self._queue,), name="kefu-stats", daemon=True
                )
                self._worker.start()
            return self._queue

    def _drain(self, hits: queue.Queue[Hit | None]) -> None:
        while True:
            batch = [hits.get()]
            if batch[-1] is not None:
                time.sleep(self._gather)
            while len(batch) < BATCH and batch[-1] is not None:
                try:
                    batch.append(hits.get_nowait())
                except queue.Empty:
                    break
            stop = batch[-1] is None  # close(): everything before it is stored
            counted = [hit for hit in batch if hit is not None]
            try:
                if counted:
                    self._store.record_all(counted)
            except Exception as failure:  # whatever the store raises, pushes go on
                self._warn_once(str(failure))
            finally:
                for _ in batch:
                    hits.task_done()
            if stop:
                return

    def _warn_once(self, reason: str) -> None:
        if not self._warned:
            self._warned = True
            log.warning("hit statistics not stored (logged once): %s", reason)
