"""When a job's replies are delivered: here, inside the push request."""

from __future__ import annotations

import logging

from domain.delivery import DeliverReplies
from domain.jobs import ReplyJob
from domain.ledger import PushLedger

log = logging.getLogger(__name__)


class DeliverNow:
    """The synchronous dispatcher: delivers inside the push request, never raising.

    On a transient failure the push's claim is released, so WeChat's own retry of the push
    gets another chance; the ledger keeps that retry from repeating parts already sent.
    """

    def __init__(self, deliver: DeliverReplies, ledger: PushLedger) -> None:
        self._deliver = deliver
        self._ledger = ledger

    def dispatch(self, job: ReplyJob) -> None:
        try:
            report = self._deliver(job)
        except Exception:
            # NOTE: WeChat must get `success` whatever happens here; the failure is only logged.
            log.exception("delivering replies failed unexpectedly")
            return
        if report.failure is not None and report.failure.transient:
            log.info("released push %s for WeChat's retry", job.key)
            self._ledger.release(job.key)
