"""The current Token and EncodingAESKey, and during a rotation the previous ones."""

from __future__ import annotations

import hmac
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from adapters.wechat_push.crypto import AesMessageCrypto, signature
from adapters.wechat_push.errors import DecryptError, InvalidSignature, NoAesKey

log = logging.getLogger(__name__)

T = TypeVar("T")

# Called with what a push was opened with, e.g. "KEFU_TOKEN_PREVIOUS".
PreviousUsed = Callable[[str], None]


@dataclass(frozen=True)
class OpenedText:
    """A push's decrypted text, and the crypto (Token and key) that opened it, for the reply."""

    text: str
    sealer: AesMessageCrypto = field(repr=False, compare=False)


class KeyRing:
    """Checks signatures with either Token and opens pushes with either EncodingAESKey.

    # NOTE: WeChat's FAQ on message encryption: console changes take effect at once while
    # pushes in flight and their retries still use the old key, so keep both, try the current
    # one first, and answer with whichever opened the push (reference 12b).
    """

    def __init__(
        self,
        token: str,
        encoding_aes_key: str | None,
        appid: str,
        previous_token: str | None = None,
        previous_key: str | None = None,
        on_previous: PreviousUsed | None = None,
        random_bytes: Callable[[int], bytes] = os.urandom,
        previous_until: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """previous_until (KEFU_ROTATION_UNTIL): the time after which the previous ones fail."""
        self._tokens = (token, previous_token) if previous_token else (token,)
        keys = (encoding_aes_key, previous_key) if previous_key else (encoding_aes_key,)
        self._cryptos = {
            (t, k): AesMessageCrypto(t, k, appid, random_bytes) for t in self._tokens for k in keys
        }
        self._keys = keys
        self._on_previous = on_previous
        self._until, self._clock = previous_until, clock

    @property
    def has_key(self) -> bool:
        """False in plaintext mode (no EncodingAESKey): only signatures can be checked."""
        return self._keys[0] is not None

    def verify_url_signature(self, given: str, timestamp: str, nonce: str) -> None:
        """Check the GET handshake's `signature` with each Token. Raises InvalidSignature."""
        self._matching_token(given, timestamp, nonce)

    def verify_plain_push(self, given: str, timestamp: str, nonce: str) -> None:
        """Check a plaintext push's `signature` with each Token. Raises InvalidSignature."""
        token = self._matching_token(given, timestamp, nonce)
        self._note_previous(token_previous=token != self._tokens[0], key_previous=False)

    def open(self, msg_signature: str, timestamp: str, nonce: str, encrypt: str) -> OpenedText:
        """The text inside `Encrypt`, once msg_signature matched a Token; each key is tried.

        Raises InvalidSignature, NoAesKey, or the current key's DecryptError when none opens it.
        """
        token = self._matching_token(msg_signature, timestamp, nonce, encrypt)
        if not self.has_key:
            raise NoAesKey("no EncodingAESKey is configured (plaintext mode)")
        failure: DecryptError | None = None
        for key in self._live(self._keys):
            crypto = self._cryptos[(token, key)]
            try:
                text = crypto.decrypt(encrypt)
            except DecryptError as error:
                failure = failure or error
                continue
            previous_key = key != self._keys[0]
            self._note_previous(token != self._tokens[0], previous_key)
            return OpenedText(text, crypto)
        assert failure is not None
        raise failure

    def _matching_token(self, given: str, *parts: str) -> str:
        # Every Token is compared, whatever matched first: the time taken says nothing about
        # which one failed, and neither does the error.
        wanted = given.encode("utf-8", "surrogatepass")
        tokens = self._live(self._tokens)
        if len(tokens) == 1:  # the usual case, without a rotation: one comparison
            if hmac.compare_digest(signature(tokens[0], *parts).encode(), wanted):
                return tokens[0]
            raise InvalidSignature("signature does not match")
        matches = [hmac.compare_digest(signature(t, *parts).encode(), wanted) for t in tokens]
        for token, matched in zip(tokens, matches, strict=True):
            if matched:
                return token
        raise InvalidSignature("signature does not match")

    def _live(self, values: tuple[T, ...]) -> tuple[T, ...]:
        """values, or only the current one once the rotation's end time has passed."""
        if self._until is not None and self._clock() > self._until:
            return values[:1]
        return values

    def _note_previous(self, token_previous: bool, key_previous: bool) -> None:
        if not (token_previous or key_previous):
            return
        used = [
            name
            for name, flag in (
                ("KEFU_TOKEN_PREVIOUS", token_previous),
                ("KEFU_ENCODING_AES_KEY_PREVIOUS", key_previous),
            )
            if flag
        ]
        which = " and ".join(used)
        log.warning("push opened with %s: WeChat still uses it; drop it once this stops", which)
        if self._on_previous is not None:
            self._on_previous(which)
