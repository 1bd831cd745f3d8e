"""The ports: what the use cases need from the outside world, as small protocols."""

from __future__ import annotations

from typing import Protocol

from domain.jobs import ReplyJob
from domain.replies import ImageRef, Outbound
from domain.rules import RuleSet
from domain.similar import QuestionMatcher
from domain.stats import DayStats, Hit


class RuleSource(Protocol):
    def current(self) -> RuleSet:
        """The rules in force now. Raises RulesUnavailable when there are none at all."""
        ...


class Matchers(Protocol):
    def for_rules(self, rules: RuleSet) -> QuestionMatcher:
        """The matcher over rules' similar questions: built once per rules version, shared."""
        ...


class MediaIds(Protocol):
    def media_id_for(self, ref: ImageRef) -> str:
        """A WeChat temporary media id showing this image. Raises MediaUnavailable."""
        ...

    def forget(self, ref: ImageRef) -> None:
        """Drop any remembered media id for ref (WeChat said it is invalid)."""
        ...


class WeChatMessenger(Protocol):
    def send(self, to_user: str, message: Outbound) -> None:
        """Deliver one customer-service message. Raises DeliveryError."""
        ...

    def set_typing(self, to_user: str) -> None:
        """Show the user that the agent is typing. Raises DeliveryError."""
        ...


class ReplyDispatcher(Protocol):
    def dispatch(self, job: ReplyJob) -> None:
        """Deliver a job's replies now or later; must not raise for delivery failures."""
        ...


class ReplyQueue(Protocol):
    def submit(self, job: ReplyJob) -> None:
        """Keep the job durably until its replies are sent or given up. Raises KefuError
        (QueueUnavailable) when it cannot: the caller must then deliver it some other way."""
        ...


class StateStore(Protocol):
    """Small shared key-value state with expiry, visible to every worker that shares it."""

    def add(self, key: str, value: str, ttl: float) -> bool:
        """Set key only when absent; True when this call set it."""
        ...

    def get(self, key: str) -> str | None: ...

    def set(self, key: str, value: str, ttl: float) -> None: ...

    def delete(self, key: str) -> None: ...


class HitStats(Protocol):
    """Per-day counts of rule hits and unmatched texts, shared by every worker and host."""

    def record(self, hit: Hit) -> None:
        """Count hit for today. Best effort: callers swallow any exception it raises."""
        ...

    def days(self, count: int) -> tuple[DayStats, ...]:
        """The last `count` days' counts, today first."""
        ...
