"""Sending a queued job: one attempt at its replies, then what happens next."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from domain.delivery import DeliverReplies, DeliveryReport
from domain.errors import DeliveryError, FailureKind
from domain.jobs import ReplyJob
from domain.quotas import quota_for
from domain.retry import GiveUp, RetryLater, RetryPolicy

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivered:
    """Every part of the job is with WeChat (or was already)."""

    sent: int


@dataclass(frozen=True)
class Unconfirmed:
    """Done, but for parts whose sends never came back: they may have reached the user, so
    they are not sent again unless an operator says so."""

    sent: int
    uncertain: int

    @property
    def reason(self) -> str:
        return (
            f"uncertain: {self.uncertain} part(s) may have reached the user (WeChat's answer "
            f"never came); retry sends them again"
        )


Outcome = Delivered | Unconfirmed | RetryLater | GiveUp


class SendQueuedReplies:
    """One attempt at a queued job, whichever process or thread runs it; never raises.

    Operator failures (whitelist, credentials, permissions) are logged as an error once per
    episode, with WeChat's reason, until a job gets through again.
    """

    def __init__(
        self, deliver: DeliverReplies, policy: RetryPolicy, clock: Callable[[], float]
    ) -> None:
        self._deliver = deliver
        self._policy = policy
        self._clock = clock
        self._operator_trouble = False

    def __call__(self, job: ReplyJob, attempts: int, queued_at: float) -> Outcome:
        """Attempt number `attempts` (1-based) of a job first queued at `queued_at`."""
        # A job past WeChat's window is not attempted: delivery reports OutsideReplyWindow,
        # a permanent failure, so it becomes a dead letter at once.
        report = self._attempt(job)
        if report.failure is None:
            self._operator_trouble = False
            if report.uncertain:
                return Unconfirmed(report.sent, report.uncertain)
            return Delivered(report.sent)
        self._note_operator_trouble(report.failure)
        return self._policy.after(
            report.failure, attempts, queued_at, closes_at(job), self._clock()
        )

    def _attempt(self, job: ReplyJob) -> DeliveryReport:
        try:
            return self._deliver(job)
        except Exception as error:
            # A bug must not drop the reply: it is retried like a transient failure, and logged.
            log.exception("delivering a queued reply failed unexpectedly")
            return DeliveryReport(
                0, DeliveryError(f"unexpected {type(error).__name__}", kind=FailureKind.TRANSIENT)
            )

    def _note_operator_trouble(self, failure: DeliveryError) -> None:
        if failure.kind is not FailureKind.OPERATOR or self._operator_trouble:
            return
        self._operator_trouble = True
        log.error("replies are held until this is fixed (retried meanwhile): %s", failure.reason)


def closes_at(job: ReplyJob) -> float | None:
    """When WeChat's window for the job's replies closes; None when the push had no time."""
    if job.created_at is None:
        return None
    return job.created_at + quota_for(job.on_enter).window
