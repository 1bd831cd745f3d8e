"""Why a WeChat signature check, decryption or key failed; no message carries a secret."""

from __future__ import annotations


class CryptoError(Exception):
    """Base of every failure in WeChat message signing and encryption."""


class InvalidSignature(CryptoError):
    """A `signature` or `msg_signature` does not match: the request is not from WeChat."""


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
