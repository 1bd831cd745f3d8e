"""The use case after the ack: a queued question finds its key among the similar questions."""

from __future__ import annotations

import logging
from dataclasses import replace

from domain.jobs import ReplyJob
from domain.ledger import PushLedger
from domain.ports import HitStats, Matchers, RuleSource
from domain.rules import DEFAULT_KEY
from domain.similar import judge
from domain.stats import Hit, unmatched_hit
from domain.stats_recording import BestEffortStats

log = logging.getLogger(__name__)


class AnswerQuestion:
    """Turns a job's question into the replies of the key it asks for, or leaves the default.

    Runs in the sender, never while WeChat waits for the ack. The rules in force now are used
    (the newest, should they have changed since the push); a failing matcher leaves the
    default. The outcome is counted once per push, whichever attempt gets here first.
    """

    def __init__(
        self,
        rules: RuleSource,
        matchers: Matchers,
        ledger: PushLedger,
        stats: HitStats | None = None,
    ) -> None:
        self._rules = rules
        self._matchers = matchers
        self._ledger = ledger
        self._stats = BestEffortStats(stats)

    def __call__(self, job: ReplyJob) -> ReplyJob:
        question = job.question
        if question is None:
            return job
        answered = replace(job, question=None)
        try:
            ruleset = self._rules.current()
            verdict = judge(self._matchers.for_rules(ruleset), question, ruleset.tuning)
        except Exception:  # the default the job carries is still a fair answer
            log.exception("similar-question matching failed; sending the default reply")
            return answered
        hit = verdict.answer
        if hit is None:
            key = DEFAULT_KEY if job.replies else None
            self._count(job, unmatched_hit(key, job.to_user, question))
            return answered
        self._count(job, Hit(hit.key, similar=True))
        rule = next(rule for rule in ruleset.similar if rule.key == hit.key)
        return replace(answered, replies=rule.replies, fallback=ruleset.default)

    def _count(self, job: ReplyJob, hit: Hit) -> None:
        if self._ledger.claim(f"{job.key}:matched"):
            self._stats.record(hit)
