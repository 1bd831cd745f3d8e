"""Why a push was refused: not WeChat's, not well-formed, or not decryptable; no secret shown."""

from __future__ import annotations

from domain.errors import KefuError


class MalformedPush(KefuError):
    """A body that is not a well-formed WeChat push."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class CryptoError(KefuError):
    """Base of every failure in WeChat message signing and encryption."""


class InvalidSignature(CryptoError):
    """A `signature` or `msg_signature` does not match: the request is not from WeChat."""


class PlaintextRefused(InvalidSignature):
    """A plaintext push while an AES key is configured: its signature does not cover the body."""


class StalePush(InvalidSignature):
    """A push whose timestamp is too far from our clock to be a fresh one from WeChat."""

    def __init__(self, skew: int) -> None:
        super().__init__(f"push timestamp is {skew} s away from the server clock")
        self.skew = skew


class BadAesKey(CryptoError):
    """The configured EncodingAESKey is unusable (the key itself is never in the message)."""


class NoAesKey(CryptoError):
    """Encryption was asked of a crypto built without an EncodingAESKey (plaintext mode)."""


class DecryptError(CryptoError):
    """An `Encrypt` value could not be turned back into a message."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BadCiphertext(DecryptError):
    """`Encrypt` is not base64, or not whole AES blocks."""


class BadPadding(DecryptError):
    """The decrypted bytes do not end in PKCS#7 padding of 1..32."""


class BadLength(DecryptError):
    """The embedded message length does not fit the decrypted bytes."""


class BadPlaintext(DecryptError):
    """The decrypted message is not UTF-8 text."""


class WrongAppId(DecryptError):
    """The message was encrypted for another AppID (AppIDs are public, so both are kept)."""

    def __init__(self, expected: str, actual: str) -> None:
        super().__init__(f"message is for AppID {actual!r}, expected {expected!r}")
        self.expected = expected
        self.actual = actual
