"""Push bodies and passive replies written as WeChat writes them, in JSON or XML."""

from __future__ import annotations

import json
from collections.abc import Mapping

from adapters.wechat_push.fields import PushFormat


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
