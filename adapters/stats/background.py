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


Stored = Hit | threading.Event | None
"""What the thread takes: a hit to store, a flush's mark (set once all before it is stored),
or None, close's: store what came before and stop."""


class BackgroundHitStats:
    """record() only queues the hit; a daemon thread (started in each process on first use,
    so it survives gunicorn's fork) stores it. A failing store is logged once, never raised.

    # NOTE: a SimpleQueue, not a queue.Queue: its put takes no lock and no condition in Python
    # (0.1 µs, where Queue.put_nowait took 2.5 µs of each push's 55 in-process); the capacity
    # is checked by its size, so a few threads at once may pass it by one hit each.
    """

    def __init__(self, store: HitStore, capacity: int = CAPACITY, gather: float = GATHER) -> None:
        self._store = store
        self._gather = gather
        self._capacity = capacity
        self._queue: queue.SimpleQueue[Stored] | None = None
        self._worker: threading.Thread | None = None
        self._pid = 0
        self._starting = threading.Lock()
        self._warned = False

    def record(self, hit: Hit) -> None:
        """Queue hit for storing; never blocks, never raises."""
        hits = self._started()
        if hits.qsize() >= self._capacity:
            self._warn_once("queue full, hits dropped")
            return
        hits.put(hit)

    def days(self, count: int) -> tuple[DayStats, ...]:
        return self._store.days(count)

    def flush(self) -> None:
        """Wait until every hit queued so far is stored (or failed)."""
        hits = self._queue
        if hits is not None and self._pid == current_pid():
            stored = threading.Event()
            hits.put(stored)
            stored.wait()

    def close(self, timeout: float = 2.0) -> None:
        """Store what is queued and stop the thread, waiting at most `timeout` seconds (at exit)."""
        with self._starting:
            hits, worker = self._queue, self._worker
            if hits is None or worker is None or self._pid != current_pid():
                return
            self._queue = self._worker = None
        hits.put(None)
        worker.join(timeout)
        if worker.is_alive():
            self._warn_once("still storing at exit, hits dropped")

    def _started(self) -> queue.SimpleQueue[Stored]:
        running = self._queue
        if running is not None and self._pid == current_pid():  # every push after the first
            return running
        with self._starting:
            if self._queue is None or self._pid != current_pid():
                self._queue = queue.SimpleQueue()
                self._pid = current_pid()
                self._worker = threading.Thread(
                    target=self._drain, args=(self._queue,), name="kefu-stats", daemon=True
                )
                self._worker.start()
            return self._queue

    def _drain(self, hits: queue.SimpleQueue[Stored]) -> None:
        while True:
            batch = [hits.get()]
            if isinstance(batch[-1], Hit):
                time.sleep(self._gather)
            while len(batch) < BATCH and batch[-1] is not None:
                try:
                    batch.append(hits.get_nowait())
                except queue.Empty:
                    break
            counted = [item for item in batch if isinstance(item, Hit)]
            try:
                if counted:
                    self._store.record_all(counted)
            except Exception as failure:  # whatever the store raises, pushes go on
                self._warn_once(str(failure))
            finally:
                for item in batch:
                    if isinstance(item, threading.Event):
                        item.set()
            if batch[-1] is None:  # close(): everything before it is stored
                return

    def _warn_once(self, reason: str) -> None:
        if not self._warned:
            self._warned = True
            log.warning("hit statistics not stored (logged once): %s", reason)
