"""Readiness of the reply queue and of this process's reply senders."""

from __future__ import annotations

from typing import Protocol

from domain.errors import QueueUnavailable
from entrypoints.service.readiness import Check, age

OLDEST_LIMIT = 600.0
"""Seconds the oldest unfinished reply may wait before the queue counts as not keeping up.
Retries of one WeChat hiccup take seconds; ten minutes means replies are not going out."""


class QueueReadings(Protocol):
    def depth(self) -> int: ...

    def oldest_age(self) -> float: ...


class Senders(Protocol):
    @property
    def alive(self) -> int: ...


def queue_check(queue: QueueReadings, limit: float = OLDEST_LIMIT) -> Check:
    """Reachable, and its oldest unfinished job younger than `limit` seconds."""
    try:
        depth, oldest = queue.depth(), queue.oldest_age()
    except QueueUnavailable as failure:
        action = "make the queue's store reachable (KEFU_REDIS_URL or KEFU_STATE_DIR)"
        return Check("reply_queue", False, str(failure), action)
    waiting = f"{depth} reply job(s) unfinished"
    if depth:
        waiting += f", the oldest for {age(oldest)}"
    if oldest > limit:
        action = (
            "replies are not going out: check that senders run (kefu_senders_running; "
            "KEFU_SENDERS or kefu worker) and WeChat's errors in the log and kefu dead-letters"
        )
        return Check("reply_queue", False, f"{waiting} (more than {age(limit)})", action)
    return Check("reply_queue", True, waiting)


def senders_check(senders: Senders, configured: int) -> Check:
    """This process's sender threads, when KEFU_SENDERS asks for some."""
    if configured == 0:
        return Check("senders", True, "KEFU_SENDERS=0: kefu worker processes send the replies")
    alive = senders.alive
    if alive == 0:
        action = "the log says why they stopped; restart kefu"
        return Check("senders", False, f"none of {configured} sender thread(s) runs", action)
    return Check("senders", True, f"{alive} of {configured} sender thread(s) running")


class QueueReadiness:
    """The reply queue's check, and this process's senders' when it runs any (None: it does not,
    as in `kefu status`)."""

    def __init__(
        self,
        queue: QueueReadings,
        senders: Senders | None,
        configured: int,
        limit: float = OLDEST_LIMIT,
    ) -> None:
        self._queue, self._senders = queue, senders
        self._configured, self._limit = configured, limit

    def __call__(self) -> list[Check]:
        checks = [queue_check(self._queue, self._limit)]
        if self._senders is not None:
            checks.append(senders_check(self._senders, self._configured))
        return checks
