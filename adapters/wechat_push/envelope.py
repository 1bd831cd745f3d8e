"""Reading and writing WeChat push bodies and passive replies, in JSON or XML."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from adapters.wechat_push.errors import MalformedPush
from adapters.wechat_push.fields import PushFormat, body_text, read_fields
from adapters.wechat_push.messages import message_from_fields
from domain.messages import Message


@dataclass(frozen=True)
class Envelope:
    """A push's top-level fields, and its `Encrypt` text exactly as in the body."""

    format: PushFormat
    fields: Mapping[str, object]
    encrypt: str | None


def parse_envelope(body: bytes) -> Envelope:
    """The outer push, its format told by its first character. Raises MalformedPush."""
    text = body_text(body).lstrip()
    fmt = {"{": PushFormat.JSON, "<": PushFormat.XML}.get(text[:1])
    if fmt is None:
        raise MalformedPush("body is neither a JSON object nor XML")
    fields = read_fields(text, fmt)
    encrypt = fields.get("Encrypt")
    # ASCII only: Encrypt is base64, and a lone surrogate would fail in the signature's hashing.
    if encrypt is not None and (not isinstance(encrypt, str) or not encrypt.isascii()):
        raise MalformedPush("Encrypt is not base64 text")
    return Envelope(fmt, fields, encrypt)


def parse_message(text: str | bytes, fmt: PushFormat) -> Message:
    """The message a (decrypted) push body carries. Raises MalformedPush."""
    return message_from_fields(read_fields(body_text(text).lstrip(), fmt))
