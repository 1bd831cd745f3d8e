"""Reading and writing WeChat push bodies and passive replies, in JSON or XML."""

from __future__ import annotations

import enum
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from domain.messages import (
    ENTER_SESSION_EVENT,
    EnterSessionEvent,
    ImageMessage,
    Message,
    MiniProgramPageMessage,
    OtherMessage,
    TextMessage,
)

# Pushes are flat; a few events nest a list of objects. Deeper is not WeChat.
MAX_DEPTH = 8
_DIGITS = re.compile(r"[0-9]{1,19}")  # int64 at most; also keeps int() away from huge text


class MalformedPush(Exception):
    """A body that is not a well-formed WeChat push."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PushFormat(enum.Enum):
    JSON = "json"
    XML = "xml"


@dataclass(frozen=True)
class Envelope:
    """A push's top-level fields, and its `Encrypt` text exactly as in the body."""

    format: PushFormat
    fields: Mapping[str, object]
    encrypt: str | None


def parse_envelope(body: bytes) -> Envelope:
    """The outer push, its format told by its first character. Raises MalformedPush."""
    text = _text(body).lstrip()
    fmt = {"{": PushFormat.JSON, "<": PushFormat.XML}.get(text[:1])
    if fmt is None:
        raise MalformedPush("body is neither a JSON object nor XML")
    fields = _fields(text, fmt)
    encrypt = fields.get("Encrypt")
    if encrypt is not None and not isinstance(encrypt, str):
        raise MalformedPush("Encrypt is not text")
    return Envelope(fmt, fields, encrypt)


def parse_message(text: str | bytes, fmt: PushFormat) -> Message:
    """The message a (decrypted) push body carries. Raises MalformedPush."""
    return message_from_fields(_fields(_text(text).lstrip(), fmt))


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


def encode_message(fmt: PushFormat, fields: Mapping[str, str | int]) -> str:
    """A flat body as WeChat writes it: compact UTF-8 JSON, or XML with CDATA text, bare ints."""
    if fmt is PushFormat.JSON:
        return json.dumps(dict(fields), ensure_ascii=False, separators=(",", ":"))
    return "<xml>" + "".join(_xml_field(k, v) for k, v in fields.items()) + "</xml>"


def encode_envelope(fmt: PushFormat, to_user: str, encrypt: str) -> str:
    """The safe-mode push body: only ToUserName and Encrypt."""
    return encode_message(fmt, {"ToUserName": to_user, "Encrypt": encrypt})


def encode_transfer(fmt: PushFormat, to_user: str, from_user: str, create_time: int) -> str:
    """The passive transfer_customer_service reply; to_user is the user's OpenID."""
    # NOTE: the JSON form is documented only for cloud functions (UNCONFIRMED elsewhere); a
    # community report says a JSON push must get JSON back, so the reply follows the push.
    return encode_message(
        fmt,
        {
            "ToUserName": to_user,
            "FromUserName": from_user,
            "CreateTime": create_time,
            "MsgType": "transfer_customer_service",
        },
    )


def encode_encrypted_reply(
    fmt: PushFormat, encrypt: str, msg_signature: str, timestamp: int, nonce: str
) -> str:
    """The safe-mode passive reply envelope, in the official casing (TimeStamp a number)."""
    return encode_message(
        fmt,
        {"Encrypt": encrypt, "MsgSignature": msg_signature, "TimeStamp": timestamp, "Nonce": nonce},
    )


def _xml_field(tag: str, value: str | int) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise TypeError(f"{tag} must be text or an integer")
    if isinstance(value, int):
        return f"<{tag}>{value}</{tag}>"
    # "]]>" cannot sit inside one CDATA section, so it is split across two.
    return f"<{tag}><![CDATA[{value.replace(']]>', ']]]]><![CDATA[>')}]]></{tag}>"


def _text(body: str | bytes) -> str:
    if isinstance(body, str):
        return body
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedPush("body is not UTF-8") from None


def _fields(text: str, fmt: PushFormat) -> dict[str, object]:
    return _json_fields(text) if fmt is PushFormat.JSON else _xml_fields(text)


def _json_fields(text: str) -> dict[str, object]:
    try:
        value = json.loads(text, object_pairs_hook=_unique_keys)
    except (ValueError, RecursionError) as e:
        raise MalformedPush(f"invalid JSON: {e}") from None
    if not isinstance(value, dict):
        raise MalformedPush("JSON body is not an object")
    _check_depth(value, 1)
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # A repeated key would let a signed field and a used field differ; WeChat never repeats one.
    result = dict(pairs)
    if len(result) != len(pairs):
        raise MalformedPush("a JSON key is repeated")
    return result


def _check_depth(value: object, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise MalformedPush(f"nested deeper than {MAX_DEPTH} levels")
    children = (
        value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    )
    for child in children:
        _check_depth(child, depth + 1)


def _xml_fields(text: str) -> dict[str, object]:
    try:
        root = SafeET.fromstring(text, forbid_dtd=True)
    except (ET.ParseError, DefusedXmlException) as e:
        raise MalformedPush(f"invalid XML: {e}") from None
    if root.tag != "xml":
        raise MalformedPush("XML root is not <xml>")
    fields = _xml_value(root, 1)
    if not isinstance(fields, dict):
        raise MalformedPush("XML body has no fields")
    return fields


def _xml_value(elem: ET.Element, depth: int) -> object:
    if depth > MAX_DEPTH:
        raise MalformedPush(f"nested deeper than {MAX_DEPTH} levels")
    if len(elem) == 0:
        return elem.text or ""
    result: dict[str, object] = {}
    for child in elem:
        value = _xml_value(child, depth + 1)
        if child.tag not in result:
            result[child.tag] = value
        elif depth == 1:
            raise MalformedPush(f"field {child.tag} is repeated")
        else:  # repeated elements inside an event (e.g. <List>) form a list
            previous = result[child.tag]
            result[child.tag] = (
                [*previous, value] if isinstance(previous, list) else [previous, value]
            )
    return result


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
