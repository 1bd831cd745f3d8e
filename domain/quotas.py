"""WeChat's customer-service quotas as rules over the time of what the user did and now.

# NOTE: mini program guide 发送客服消息 (reference 12b): after a user message, 5 messages within
# 48 hours; after the user enters the chat, 2 within 1 minute. Each user action starts its own
# count, so each job is judged against the action that earned it.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_REPLIES = 5  # WeChat's quota of sends per user message
MAX_ENTER_REPLIES = 2  # WeChat allows 2 sends in the minute after a user enters the chat
REPLY_WINDOW = 48 * 3600.0
ENTER_WINDOW = 60.0


@dataclass(frozen=True)
class Quota:
    """How many sends one user action allows, and for how many seconds after it."""

    sends: int
    window: float
    after: str  # what the window counts from, for messages

    def closed(self, action_time: float | None, now: float) -> bool:
        """True once a send now would come too late (an unknown action time never closes)."""
        return action_time is not None and now - action_time > self.window

    def why_closed(self, action_time: float, now: float) -> str:
        hours = (now - action_time) / 3600
        return (
            f"{hours:.1f} h after the {self.after}, past WeChat's {self.window / 3600:g} h window"
        )


USER_MESSAGE = Quota(MAX_REPLIES, REPLY_WINDOW, "user's message")
ENTERING = Quota(MAX_ENTER_REPLIES, ENTER_WINDOW, "user entered the chat")


def quota_for(on_enter: bool) -> Quota:
    """The quota of a job earned by entering the chat, or by a user message."""
    return ENTERING if on_enter else USER_MESSAGE
