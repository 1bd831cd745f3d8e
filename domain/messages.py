"""Inbound messages and events a user's customer-service chat produces."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class Inbound:
    """Fields every push carries, decrypted and parsed."""

    to_user: str
    from_user: str
    create_time: int
    # NOTE: MsgId is a 64-bit integer on the wire (a string in cloud pushes); kept as exact text.
    msg_id: str | None = None

    @property
    def dedup_key(self) -> str:
        """Identity of the push across WeChat's retries (reference section 4, WxJava's key)."""
        if self.msg_id is not None:
            return f"msg:{self.msg_id}:{self.from_user}:{self.create_time}"
        return f"event:{self.from_user}:{self.create_time}:{self.event_name}"

    @property
    def event_name(self) -> str:
        return ""

    @property
    def is_user_message(self) -> bool:
        """True for something the user typed or sent, False for events."""
        return True


@dataclass(frozen=True, kw_only=True)
class TextMessage(Inbound):
    content: str


@dataclass(frozen=True, kw_only=True)
class ImageMessage(Inbound):
    pic_url: str = ""
    media_id: str = ""


@dataclass(frozen=True, kw_only=True)
class MiniProgramPageMessage(Inbound):
    title: str = ""
    app_id: str = ""
    page_path: str = ""
    thumb_url: str = ""
    thumb_media_id: str = ""


@dataclass(frozen=True, kw_only=True)
class EnterSessionEvent(Inbound):
    session_from: str = ""

    @property
    def event_name(self) -> str:
        return "enter_session"

    @property
    def is_user_message(self) -> bool:
        return False


@dataclass(frozen=True, kw_only=True)
class OtherMessage(Inbound):
    """Any push kefu does not act on (debug_demo, subscribe events...): kept, never an error."""

    msg_type: str
    event: str = ""

    @property
    def event_name(self) -> str:
        return self.event

    @property
    def is_user_message(self) -> bool:
        return self.msg_type != "event"


Message = TextMessage | ImageMessage | MiniProgramPageMessage | EnterSessionEvent | OtherMessage
