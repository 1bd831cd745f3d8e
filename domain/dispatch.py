"""How a push's reply job is handed on: to the durable queue, or (in the preview) delivered here."""

from __future__ import annotations

import logging

from domain.delivery import DeliverReplies
from domain.errors import KefuError
from domain.jobs import ReplyJob
from domain.ports import ReplyQueue

log = logging.getLogger(__name__)


class DeliverNow:
    """The synchronous dispatcher: delivers inside the request, never raising (`kefu preview`,
    and tests that want the replies at once). The push's claim is kept whatever happens."""

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


class Enqueue:
    """Puts each job on the durable queue, and nothing else: replies are never sent inside the
    request, whose answer must not wait on WeChat.

    The queue keeps a job on this host when its shared store is down; should no store at all
    take it (the disk full or read-only too), the push still gets `success` — WeChat's retry
    would meet the same failure — the loss is logged once per episode, and `refusing` says why
    until a job is taken again (readiness reports it).
    """

    def __init__(self, queue: ReplyQueue) -> None:
        self._queue = queue
        self.refusing: str | None = None

    def dispatch(self, job: ReplyJob) -> None:
        try:
            self._queue.submit(job)
        except KefuError as failure:
            if self.refusing is None:
                log.error("no reply queue takes replies; they are lost until one does: %s", failure)
            self.refusing = str(failure)
            return
        if self.refusing is not None:
            self.refusing = None
            log.info("reply queue takes replies again")
