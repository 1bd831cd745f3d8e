"""The use case: answer one inbound message according to the rules in force."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from domain.errors import KefuError
from domain.jobs import ReplyJob
from domain.ledger import PushLedger
from domain.messages import EnterSessionEvent, Message, TextMessage
from domain.ports import HitStats, ReplyDispatcher, RuleSource
from domain.replies import Reply, TransferReply
from domain.rules import DEFAULT_KEY, MAX_MATCH_CHARS, Match, RuleSet, normalise
from domain.stats import hit_for
from domain.stats_recording import BestEffortStats

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Acknowledge:
    """Answer the push with `success`; any replies go out through the API."""


@dataclass(frozen=True)
class Transfer:
    """Answer the push with a passive transfer_customer_service reply."""

    to_user: str
    from_user: str
    create_time: int


Answer = Acknowledge | Transfer


def plan_replies(message: Message, replies: tuple[Reply, ...]) -> tuple[tuple[Reply, ...], bool]:
    """Split matched replies into what is sent through the API and whether to hand over."""
    sends = tuple(r for r in replies if not isinstance(r, TransferReply))
    # NOTE: only user messages may be transferred, never events (reference section 5).
    transfer = message.is_user_message and len(sends) < len(replies)
    return sends, transfer


def question_for(message: Message, match: Match, ruleset: RuleSet) -> str | None:
    """The text to match by similar questions after the push is acked, or None."""
    if not ruleset.similar or not isinstance(message, TextMessage):
        return None
    if match.key not in (DEFAULT_KEY, None):
        return None
    return normalise(message.content[:MAX_MATCH_CHARS]) or None


@dataclass(frozen=True)
class Planned:
    """What the rules make of a message: its rule match, the job to queue (None when nothing
    is to be sent or matched later) and whether the chat is handed to a human agent."""

    match: Match
    job: ReplyJob | None
    transfer: bool


def plan(message: Message, ruleset: RuleSet) -> Planned:
    """Match the message against one version of the rules."""
    match = ruleset.match(message)
    sends, transfer = plan_replies(message, match.replies)
    question = question_for(message, match, ruleset)
    job = None
    if sends or question:
        job = ReplyJob(
            message.dedup_key,
            message.from_user,
            sends,
            ruleset.default if match.key != DEFAULT_KEY else (),
            created_at=message.create_time or None,
            on_enter=isinstance(message, EnterSessionEvent),
            question=question,
            rules_version=ruleset.version,
        )
    return Planned(match, job, transfer)


def awaiting_rules(message: Message) -> ReplyJob | None:
    """The job for a message no rules were in force to match: matched by its sender once
    they are (None for events no rule answers)."""
    if not message.is_user_message and not isinstance(message, EnterSessionEvent):
        return None
    return ReplyJob(
        message.dedup_key,
        message.from_user,
        (),
        created_at=message.create_time or None,
        on_enter=isinstance(message, EnterSessionEvent),
        message=message,
    )


def count_match(stats: BestEffortStats, message: Message, match: Match) -> None:
    """The rule that answered, counted (nothing for events no rule is counted for)."""
    hit = hit_for(message, match)
    if hit is not None:
        stats.record(hit)


class AnswerMessage:
    """Turns a message into replies and hands them to the dispatcher; never raises.

    Each push is claimed in the ledger once its job is queued, so a retry of it (on any worker)
    queues nothing; should two copies ever be queued, the ledger sends each part once.
    Which rule answered is counted in `stats` once per push, best effort.

    With no rules in force at all (a first start whose CMS has not answered yet), the push is
    still acknowledged at once: its job carries the message, matched by the sender once the
    rules arrive (domain.late_answering).
    """

    def __init__(
        self,
        rules: RuleSource,
        dispatcher: ReplyDispatcher,
        ledger: PushLedger,
        stats: HitStats | None = None,
    ) -> None:
        self._rules = rules
        self._dispatcher = dispatcher
        self._ledger = ledger
        self._stats = BestEffortStats(stats)

    def __call__(self, message: Message) -> Answer:
        try:
            ruleset = self._rules.current()
        except KefuError as unavailable:
            job = awaiting_rules(message)
            if job is not None and self._queue(job):
                log.warning("no rules in force yet (%s): the reply waits for them", unavailable)
            return Acknowledge()
        planned = plan(message, ruleset)
        fresh = planned.job is not None and self._queue(planned.job)
        # A retry of a push already claimed was counted then; a question is counted once it
        # is matched (domain.similar_answering).
        if planned.job is None or (fresh and planned.job.question is None):
            count_match(self._stats, message, planned.match)
        # NOTE: a retry still gets the transfer answer: the first may not have reached WeChat.
        if planned.transfer:
            return Transfer(message.from_user, message.to_user, message.create_time)
        return Acknowledge()

    def _queue(self, job: ReplyJob) -> bool:
        """Queue the job unless its push was claimed already; whether it was queued."""
        if self._ledger.seen(job.key):
            return False
        # Queued first, claimed after: a worker killed between the two leaves a job and no
        # claim, so WeChat's retry queues it again and the ledger still sends each part
        # once. The other order would leave a claim and no job: the reply lost.
        self._dispatcher.dispatch(job)
        self._ledger.claim(job.key)
        return True
