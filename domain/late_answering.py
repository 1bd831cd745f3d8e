"""The use case after the ack: a job queued before any rules were in force gets its replies."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

from domain.answering import count_match, plan
from domain.errors import DeliveryError, FailureKind, KefuError
from domain.jobs import ReplyJob
from domain.ledger import PushLedger
from domain.ports import HitStats, RuleSource
from domain.stats_recording import BestEffortStats

log = logging.getLogger(__name__)


class NoRulesYet(DeliveryError):
    """No rules are in force to match a queued message: its job waits and is tried again."""

    def __init__(self, why: KefuError) -> None:
        super().__init__(f"no rules in force yet: {why}", kind=FailureKind.TRANSIENT)


class AnswerWhenRulesArrive:
    """Matches the message a job carries against the rules in force now, then hands the job on
    to `then` (the similar questions); a job without one is only handed on.

    Runs in the sender, attempt after attempt until rules arrive (the queue's retries, up to
    the reply deadline). The match is counted once per push, whichever attempt makes it.
    """

    def __init__(
        self,
        rules: RuleSource,
        ledger: PushLedger,
        then: Callable[[ReplyJob], ReplyJob],
        stats: HitStats | None = None,
    ) -> None:
        self._rules = rules
        self._ledger = ledger
        self._then = then
        self._stats = BestEffortStats(stats)

    def __call__(self, job: ReplyJob) -> ReplyJob:
        """The job with its replies. Raises NoRulesYet."""
        message = job.message
        if message is None:
            return self._then(job)
        try:
            ruleset = self._rules.current()
        except KefuError as unavailable:
            raise NoRulesYet(unavailable) from None
        planned = plan(message, ruleset)
        if planned.transfer:
            # NOTE: a chat is handed to a human agent only by the push's own answer, long sent.
            log.warning("push %s: the rules hand it to an agent, too late after the ack", job.key)
        found = planned.job
        # A question is counted once it is matched (domain.similar_answering).
        if (found is None or found.question is None) and self._ledger.claim(f"{job.key}:matched"):
            count_match(self._stats, message, planned.match)
        return replace(job, message=None) if found is None else self._then(found)
