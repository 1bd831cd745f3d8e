"""The domain message a push's fields describe, each field checked as WeChat writes it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from adapters.wechat_push.errors import MalformedPush
from domain.messages import (
    EnterSessionEvent,
    ImageMessage,
    Message,
    MiniProgramPageMessage,
    OtherMessage,
    TextMessage,
)

# The event WeChat pushes when a user enters the customer-service chat.
ENTER_SESSION_EVENT = "user_enter_tempsession"
_DIGITS = re.compile(r"[0-9]{1,19}")  # int64 at most; also keeps int() away from huge text


def message_from_fields(fields: Mapping[str, object]) -> Message:
    """The domain message for a push's fields; unknown types become OtherMessage."""
    common: dict[str, Any] = {
        "to_user": _str(fields, "ToUserName"),
        "from_user": _required(fields, "FromUserName"),
        "create_time": _create_time(fields.get("CreateTime")),
        "msg_id": _msg_id(fields.get("MsgId")),
    }
    msg_type, event = _required(fields, "MsgType"), _str(fields, "Event")
    if msg_type == "text":
        return TextMessage(**common, content=_str(fields, "Content"))
    if msg_type == "image":
        return ImageMessage(
            **common, pic_url=_str(fields, "PicUrl"), media_id=_str(fields, "MediaId")
        )
    if msg_type == "miniprogrampage":
        return MiniProgramPageMessage(
            **common,
            title=_str(fields, "Title"),
            app_id=_str(fields, "AppId"),
            page_path=_str(fields, "PagePath"),
            thumb_url=_str(fields, "ThumbUrl"),
            thumb_media_id=_str(fields, "ThumbMediaId"),
        )
    if msg_type == "event" and event == ENTER_SESSION_EVENT:
        return EnterSessionEvent(**common, session_from=_str(fields, "SessionFrom"))
    return OtherMessage(**common, msg_type=msg_type, event=event)


def _required(fields: Mapping[str, object], key: str) -> str:
    value = fields.get(key)
    if not isinstance(value, str) or not value:
        raise MalformedPush(f"{key} is missing")
    return value


def _str(fields: Mapping[str, object], key: str) -> str:
    value = fields.get(key)
    return value if isinstance(value, str) else ""


def _create_time(value: object) -> int:
    # NOTE: WxJava fixtures show CreateTime as a JSON string; both forms are accepted. WeChat
    # always sends it; a push without one is kept (as 0) rather than refused and retried.
    if value is None:
        return 0
    if isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise MalformedPush("CreateTime is not a number")


def _msg_id(value: object) -> str | None:
    # NOTE: kept as exact text; cloud pushes send non-numeric ids such as "49d7..._1555684067".
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str):
        return value.strip() or None
    if value is None:
        return None
    raise MalformedPush("MsgId is neither a number nor text")
