"""The reply queue's gauges, read from the shared queue every few seconds by each process."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

from adapters.metrics.definitions import DEAD_LETTERS, QUEUE_DEPTH, QUEUE_OLDEST, SENDERS_RUNNING
from adapters.queue.queue import HueyReplyQueue
from adapters.queue.senders import SenderPool
from domain.errors import QueueUnavailable

log = logging.getLogger(__name__)

EVERY = 5.0
"""Seconds between readings: Prometheus scrapes every 15 s or more."""


class QueueGauges:
    """Sets the queue's depth, oldest job age and dead letters, and this process's senders."""

    def __init__(self, queue: HueyReplyQueue, senders: SenderPool) -> None:
        self._queue = queue
        self._senders = senders

    def refresh(self) -> None:
        SENDERS_RUNNING.set(self._senders.alive)
        try:
            backlog = self._queue.backlog()  # one scan of the journal for both
            QUEUE_DEPTH.set(backlog.depth)
            QUEUE_OLDEST.set(backlog.oldest_age)
            DEAD_LETTERS.set(len(self._queue.dead_letters.all()))
        except QueueUnavailable:
            pass  # readiness reports it; the gauges keep their last reading


def watch_queue(
    queue: HueyReplyQueue, senders: SenderPool, every: float = EVERY
) -> Iterator[QueueGauges]:
    """Refresh the gauges every `every` seconds from a daemon thread until shutdown."""
    gauges = QueueGauges(queue, senders)
    stop = threading.Event()

    def loop() -> None:
        while True:
            try:
                gauges.refresh()
            except Exception:  # a bug here must not end the thread silently
                log.exception("reading the reply queue's gauges failed")
            if stop.wait(every):
                return

    threading.Thread(target=loop, name="kefu-queue-gauges", daemon=True).start()
    try:
        yield gauges
    finally:
        stop.set()
