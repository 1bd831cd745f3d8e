"""A unit of reply work, handed from the push path to whoever delivers it."""

from __future__ import annotations

from dataclasses import dataclass

from domain.messages import Message
from domain.replies import Reply


@dataclass(frozen=True)
class ReplyJob:
    """The replies one push earned, in order, with what to send if an image fails.

    `key` is the push's dedup key: delivery is idempotent per (key, position), so a job
    replayed after a crash or retry never sends a part WeChat already accepted. `created_at`
    is the CreateTime of the user's action (None when the push had none) and `on_enter` says
    it was entering the chat: together they give the job's quota (domain.quotas).

    `question` is the user's text when no keyword or pattern hit it and the rules (version
    `rules_version`) have similar questions: the sender matches it before delivering, and the
    replies the job carries (the default) stand until then.

    `message` is the push itself when no rules were in force to match it at the ack (a first
    start whose CMS has not answered yet): the sender matches it once rules arrive
    (domain.late_answering), and the job waits for them until then.
    """

    key: str
    to_user: str
    replies: tuple[Reply, ...]
    fallback: tuple[Reply, ...] = ()
    created_at: int | None = None
    on_enter: bool = False
    question: str | None = None
    rules_version: str = ""
    message: Message | None = None

    @property
    def kinds(self) -> tuple[str, ...]:
        """The reply kinds in order, as an operator reads them (text, link, image...)."""
        return tuple(type(reply).__name__.removesuffix("Reply").lower() for reply in self.replies)
