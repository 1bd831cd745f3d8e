"""WeChat's push protocol end to end: prove a push genuine, open it, and seal a passive reply."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from adapters.wechat_push.crypto import AesMessageCrypto
from adapters.wechat_push.encoding import encode_encrypted_reply, encode_transfer
from adapters.wechat_push.envelope import parse_envelope, parse_message
from adapters.wechat_push.errors import InvalidSignature, MalformedPush, PlaintextRefused, StalePush
from adapters.wechat_push.fields import PushFormat
from adapters.wechat_push.keyring import KeyRing
from adapters.wechat_push.plaintext_binding import PlaintextBinding
from domain.answering import Transfer
from domain.messages import Message

_MAX_PARAM = 128  # query values are short hex, digits or ids; anything longer is not WeChat
# NOTE: WeChat's echostr is a long number; letters and digits only, so nothing reflected can be
# read as markup or script whatever a client sniffs.
_ECHOSTR = re.compile(r"[A-Za-z0-9]{1,128}")
MAX_PUSH_AGE = 48 * 3600
"""Seconds after which a push is refused whatever KEFU_MAX_CLOCK_SKEW says: WeChat lets a
reply be sent only within 48 hours of the user's message, so an older push is a replay."""


def replay_window(max_clock_skew: int) -> int:
    """The seconds a push's timestamp may be away from the clock: the setting, capped at 48 h."""
    return min(max_clock_skew or MAX_PUSH_AGE, MAX_PUSH_AGE)


@dataclass(frozen=True)
class OpenedPush:
    """A genuine push, decrypted and parsed, with what a passive reply must echo."""

    message: Message
    format: PushFormat
    encrypted: bool
    nonce: str
    # The Token and key that opened the push seal its passive reply (None when plaintext).
    sealer: AesMessageCrypto | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class PassiveReply:
    body: str
    content_type: str


class WeChatPushGateway:
    """Checks signatures, decrypts and parses pushes; encodes passive replies the same way."""

    def __init__(
        self,
        crypto: KeyRing,
        max_clock_skew: int = 0,
        clock: Callable[[], float] = time.time,
        plaintext_binding: PlaintextBinding | None = None,
    ) -> None:
        self._crypto = crypto
        self._max_skew = replay_window(max_clock_skew)
        self._clock = clock
        self._binding = plaintext_binding

    def verify_url(self, params: Mapping[str, str]) -> str:
        """The echostr to answer a genuine URL verification with, raw."""
        timestamp, nonce = self._fresh(params)
        self._crypto.verify_url_signature(_param(params, "signature"), timestamp, nonce)
        echostr = params.get("echostr", "")
        if not _ECHOSTR.fullmatch(echostr):
            raise MalformedPush("echostr is not letters and digits of WeChat's length")
        if self._binding is not None:
            self._binding.bind_verification(_param(params, "signature"), timestamp, nonce, echostr)
        return echostr

    def open(self, params: Mapping[str, str], body: bytes) -> OpenedPush:
        """Raises InvalidSignature (not genuine), MalformedPush or a DecryptError."""
        timestamp, nonce = self._fresh(params)
        if params.get("encrypt_type", "raw") != "aes":
            return self._open_plain(params, body, timestamp, nonce)
        if not self._crypto.has_key:
            raise InvalidSignature("encrypted push but KEFU_ENCODING_AES_KEY is not set")
        envelope = parse_envelope(body)
        if envelope.encrypt is None:
            raise MalformedPush("encrypted push without an Encrypt field")
        signature = _param(params, "msg_signature")
        opened = self._crypto.open(signature, timestamp, nonce, envelope.encrypt)
        # NOTE: compatible mode also carries plaintext fields; only the signed Encrypt is trusted.
        message = parse_message(opened.text, envelope.format)
        return OpenedPush(message, envelope.format, True, nonce, opened.sealer)

    def _open_plain(
        self, params: Mapping[str, str], body: bytes, ts: str, nonce: str
    ) -> OpenedPush:
        if self._crypto.has_key:
            raise PlaintextRefused("plaintext push refused: an AES key is configured")
        signature = _param(params, "signature")
        self._crypto.verify_plain_push(signature, ts, nonce)
        envelope = parse_envelope(body)
        if self._binding is not None:
            self._binding.bind_push(signature, ts, nonce, body)
        return OpenedPush(parse_message(body, envelope.format), envelope.format, False, nonce)

    def seal(self, transfer: Transfer, push: OpenedPush) -> PassiveReply:
        """The transfer_customer_service reply in the push's format, encrypted when it was."""
        now = int(self._clock())
        fmt = push.format
        plain = encode_transfer(fmt, transfer.to_user, transfer.from_user, now)
        content_type = "application/json" if fmt is PushFormat.JSON else "application/xml"
        if push.sealer is None:
            return PassiveReply(plain, content_type)
        # NOTE: the reply echoes the push's nonce, as the official example does (reference §5).
        sealed = push.sealer.seal(plain, str(now), push.nonce)
        body = encode_encrypted_reply(fmt, sealed.encrypt, sealed.msg_signature, now, push.nonce)
        return PassiveReply(body, content_type)

    def _fresh(self, params: Mapping[str, str]) -> tuple[str, str]:
        timestamp, nonce = _param(params, "timestamp"), _param(params, "nonce")
        if not timestamp.isdigit():
            raise MalformedPush("timestamp is not a number")
        skew = abs(int(self._clock()) - int(timestamp))
        if skew > self._max_skew:
            raise StalePush(skew)
        return timestamp, nonce


def _param(params: Mapping[str, str], name: str) -> str:
    value = params.get(name)
    if not value:
        raise InvalidSignature(f"query parameter {name} is missing")
    if len(value) > _MAX_PARAM or not value.isascii():
        raise MalformedPush(f"query parameter {name} is not in WeChat's form")
    return value
