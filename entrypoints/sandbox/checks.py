"""How the WeChat sandbox judges request bodies, and the errmsg it gives each errcode."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping

ERRMSG: Mapping[int, str] = {
    -1: "system error",
    0: "ok",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40003: "invalid openid",
    40004: "invalid media type",
    40007: "invalid media_id",
    40008: "invalid message type",
    40013: "invalid appid",
    40101: "missing parameter",
    40125: "invalid appsecret",
    40164: "invalid ip, not in whitelist",
    41001: "access_token missing",
    41002: "appid missing",
    41004: "appsecret missing",
    41005: "media data missing",
    42001: "access_token expired",
    43002: "require POST method",
    44002: "empty post data",
    44004: "empty content",
    45002: "content size out of limit",
    45009: "reach max api daily quota limit",
    45011: "api minute-quota reach limit must slower retry next minute",
    45015: "response out of time limit or subscription is canceled",
    45047: "out of response count limit",
    45072: "invalid command",
    45080: "no interaction within the previous 30 s",
    45081: "already typing",
    47001: "data format error",
    48001: "api unauthorized",
}


def errmsg(errcode: int) -> str:
    return ERRMSG.get(errcode, "sandbox fault")


# NOTE: WeChat's text limit is UNCONFIRMED; 2048 UTF-8 bytes (measured) is the safe reading.
MAX_TEXT_BYTES = 2048
FIELDS: Mapping[str, tuple[str, ...]] = {
    "text": ("content",),
    "image": ("media_id",),
    "link": ("title", "description", "url", "thumb_url"),
    "miniprogrampage": ("title", "pagepath", "thumb_media_id"),
}
_MEDIA_FIELDS = frozenset({"media_id", "thumb_media_id"})
TYPING_COMMANDS = frozenset({"Typing", "CancelTyping"})


def parse_json(raw: bytes) -> tuple[int, dict[str, object]]:
    """(0, object) for a UTF-8 JSON object, else the errcode and an empty dict."""
    if not raw.strip():
        return 44002, {}
    try:
        data = json.loads(raw.decode("utf-8"))
    except ValueError:
        # NOTE: 47001 data format error is WeChat's global code for unparsable bodies; the
        # reference lists none for this case.
        return 47001, {}
    return (0, data) if isinstance(data, dict) else (47001, {})


def check_send(message: Mapping[str, object], knows_media: Callable[[str], bool]) -> int:
    """The errcode WeChat gives a customer-service message body, 0 when it is well formed."""
    touser = message.get("touser")
    if not isinstance(touser, str) or not touser.strip():
        return 40003
    msgtype = message.get("msgtype")
    if not isinstance(msgtype, str) or msgtype not in FIELDS:
        # NOTE: the reference documents no code for this; 40008 invalid message type is WeChat's
        # global code for it, closer than -1 system error (which callers retry).
        return 40008
    item = message.get(msgtype)
    if msgtype == "text":
        return _check_text(item)
    if not isinstance(item, dict):
        return 40101
    for name in FIELDS[msgtype]:
        value = item.get(name)
        # NOTE: the reference lists every field as required; empty strings count as missing.
        if not isinstance(value, str) or not value:
            return 40101
        if name in _MEDIA_FIELDS and not knows_media(value):
            return 40007
    return 0


def _check_text(item: object) -> int:
    content = item.get("content") if isinstance(item, dict) else None
    if not isinstance(content, str) or not content:
        return 44004
    return 45002 if len(content.encode("utf-8")) > MAX_TEXT_BYTES else 0


def check_typing(message: Mapping[str, object]) -> int:
    touser = message.get("touser")
    if not isinstance(touser, str) or not touser.strip():
        return 40003
    return 0 if message.get("command") in TYPING_COMMANDS else 45072
