"""Builds pushes exactly as WeChat does — signed, and encrypted when a key is set."""

from __future__ import annotations

import enum
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from adapters.wechat_push.crypto import AesMessageCrypto, signature
from adapters.wechat_push.encoding import encode_envelope, encode_message
from adapters.wechat_push.fields import PushFormat
from adapters.wechat_push.messages import ENTER_SESSION_EVENT

APP_ORIGINAL_ID = "gh_kefu_simulated"


class Mode(enum.Enum):
    PLAINTEXT = "plaintext"
    COMPATIBLE = "compatible"
    SAFE = "safe"


@dataclass(frozen=True)
class SignedPush:
    params: dict[str, str]
    body: bytes
    content_type: str


@dataclass
class PushSimulator:
    """Plays WeChat's side of the callback for one mini program."""

    token: str
    appid: str
    encoding_aes_key: str | None = field(default=None, repr=False)
    clock: Callable[[], float] = time.time
    to_user: str = APP_ORIGINAL_ID

    def build(self, fields: Mapping[str, str | int], fmt: PushFormat, mode: Mode) -> SignedPush:
        return self._signed(encode_message(fmt, fields), fmt, mode, fields)

    def build_text(self, message: str, fmt: PushFormat) -> SignedPush:
        """A safe-mode push of a message body the caller wrote, any text WeChat could encrypt."""
        return self._signed(message, fmt, Mode.SAFE, {})

    def _signed(
        self, message: str, fmt: PushFormat, mode: Mode, fields: Mapping[str, str | int]
    ) -> SignedPush:
        timestamp, nonce = str(int(self.clock())), str(secrets.randbelow(10**10))
        params = {
            "signature": signature(self.token, timestamp, nonce),
            "timestamp": timestamp,
            "nonce": nonce,
            "openid": str(fields.get("FromUserName", "")),
        }
        content_type = "application/json" if fmt is PushFormat.JSON else "text/xml"
        if mode is Mode.PLAINTEXT:
            return SignedPush(params, message.encode(), content_type)
        crypto = AesMessageCrypto(self.token, self.encoding_aes_key, self.appid)
        encrypt = crypto.encrypt(message)
        params["encrypt_type"] = "aes"
        params["msg_signature"] = signature(self.token, timestamp, nonce, encrypt)
        if mode is Mode.SAFE:
            body = encode_envelope(fmt, self.to_user, encrypt)
        else:
            body = encode_message(fmt, {**fields, "Encrypt": encrypt})
        return SignedPush(params, body.encode(), content_type)

    def text(self, content: str, openid: str, msg_id: int | None = None) -> dict[str, str | int]:
        return {
            **self._common(openid, "text"),
            "Content": content,
            "MsgId": msg_id if msg_id is not None else _msg_id(),
        }

    def image(
        self, openid: str, pic_url: str = "https://mmbiz.example/pic.jpg"
    ) -> dict[str, str | int]:
        return {
            **self._common(openid, "image"),
            "PicUrl": pic_url,
            "MediaId": "simulated_media_id",
            "MsgId": _msg_id(),
        }

    def enter(self, openid: str, session_from: str = "") -> dict[str, str | int]:
        return {
            **self._common(openid, "event"),
            "Event": ENTER_SESSION_EVENT,
            "SessionFrom": session_from,
        }

    def _common(self, openid: str, msg_type: str) -> dict[str, str | int]:
        return {
            "ToUserName": self.to_user,
            "FromUserName": openid,
            "CreateTime": int(self.clock()),
            "MsgType": msg_type,
        }


def _msg_id() -> int:
    # NOTE: real MsgIds are 64-bit; use the full range so precision bugs would show.
    return 2**62 + secrets.randbelow(2**62)
