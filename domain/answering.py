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


class AnswerMessage:
    """Turns a message into replies and hands them to the dispatcher; never raises.

    Each push is claimed in the ledger once its job is queued, so a retry of it (on any worker)
    queues nothing; should two copies ever be queued, the ledger sends each part once.
    Which rule answered is counted in `stats` once per push, best effort.
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
            log.error("no rules to answer with, sending nothing: %s", unavailable)
            return Acknowledge()
        match = ruleset.match(message)
        sends, transfer = plan_replies(message, match.replies)
        question = question_for(message, match, ruleset)
        fresh = bool(sends or question) and not self._ledger.seen(message.dedup_key)
        if fresh:
            fallback = ruleset.default if match.key != DEFAULT_KEY else ()
            job = ReplyJob(
                message.dedup_key,
                message.from_user,
                sends,
                fallback,
                created_at=message.create_time or None,
                on_enter=isinstance(message, EnterSessionEvent),
                question=question,
                rules_version=ruleset.version,
            )
            # Queued first, claimed after: a worker killed between the two leaves a job and no
            # claim, so WeChat's retry queues it again and the ledger still sends each part
            # once. The other order would leave a claim and no job: the reply lost.
            self._dispatcher.dispatch(job)
            self._ledger.claim(message.dedup_key)
        # A retry of a push already claimed was counted then; a question is counted once it
        # is matched (domain.similar_answering).
        if question is None and (fresh or not sends):
            self._count(message, match)
        # NOTE: a retry still gets the transfer answer: the first may not have reached WeChat.
        if transfer:
            return Transfer(message.from_user, message.to_user, message.create_time)
        return Acknowledge()

    def _count(self, message: Message, match: Match) -> None:
        hit = hit_for(message, match)
        if hit is not None:
            self._stats.record(hit)
