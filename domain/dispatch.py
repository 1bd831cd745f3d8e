"""When a job's replies are delivered: on the durable queue, or here, inside the push request."""

from __future__ import annotations

import logging
from collections.abc import Callable

from domain.delivery import DeliverReplies
from domain.errors import KefuError
from domain.jobs import ReplyJob
from domain.ports import ReplyDispatcher, ReplyQueue

log = logging.getLogger(__name__)


class DeliverNow:
    """The synchronous dispatcher: delivers inside the push request, never raising.

    Used when the reply queue cannot take a job. The push's claim is kept whatever happens:
    WeChat does not re-send a push it got `success` for, so releasing it would gain nothing.
    """

    def __init__(self, deliver: DeliverReplies) -> None:
        self._deliver = deliver

    def dispatch(self, job: ReplyJob) -> None:
        try:
            report = self._deliver(job)
        except Exception:
            # NOTE: WeChat must get `success` whatever happens here; the failure is only logged.
            log.exception("delivering replies failed unexpectedly")
            return
        if report.failure is not None:
            log.warning("replies not delivered after %d part(s): %s", report.sent, report.failure)


RETRY_AFTER = 30.0
"""Seconds the queue is not asked again after it failed to take a job."""


class QueueFirst:
    """Puts each job on the durable queue; if the queue cannot take it, delivers it right away.

    A push is never lost to a queue that is down: its replies go out in the request instead,
    as before there was a queue. That is logged once per episode, not once per push, and for
    `retry_after` seconds the queue is not asked again, so a dead store costs no time per push.
    """

    def __init__(
        self,
        queue: ReplyQueue,
        inline: ReplyDispatcher,
        clock: Callable[[], float],
        retry_after: float = RETRY_AFTER,
    ) -> None:
        self._queue = queue
        self._inline = inline
        self._clock = clock
        self._retry_after = retry_after
        self._down_until: float | None = None

    def dispatch(self, job: ReplyJob) -> None:
        down_until = self._down_until
        if down_until is None or self._clock() >= down_until:
            try:
                self._queue.submit(job)
            except KefuError as failure:
                self._went_down(failure)
            else:
                self._came_back()
                return
        self._inline.dispatch(job)

    def _went_down(self, failure: KefuError) -> None:
        if self._down_until is None:
            log.warning("reply queue unavailable, delivering replies in the request: %s", failure)
        self._down_until = self._clock() + self._retry_after

    def _came_back(self) -> None:
        if self._down_until is not None:
            self._down_until = None
            log.info("reply queue available again")
