"""WeChat push signatures (SHA-1) and message encryption (AES-256-CBC, 32-byte PKCS#7)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes

from adapters.wechat_push.errors import (
    BadAesKey,
    BadCiphertext,
    BadLength,
    BadPadding,
    BadPlaintext,
    InvalidSignature,
    NoAesKey,
    WrongAppId,
)

# NOTE: WeChat pads to 32-byte blocks although AES blocks are 16 (reference P1, vector V3).
PAD_BLOCK = 32
RANDOM_SIZE = 16
LENGTH_END = RANDOM_SIZE + 4


def signature(*parts: str) -> str:
    """Lowercase hex SHA-1 of the parts sorted as plain strings and joined without separator."""
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


_sign = signature  # the methods below take a parameter named `signature`


def _check(expected: str, given: str) -> None:
    # Bytes, because compare_digest refuses non-ASCII str and the query string is the sender's.
    if not hmac.compare_digest(expected.encode(), given.encode("utf-8", "surrogatepass")):
        raise InvalidSignature("signature does not match")


def _aes_key(encoding_aes_key: str) -> bytes:
    if len(encoding_aes_key) != 43:
        raise BadAesKey(f"EncodingAESKey must be 43 characters, got {len(encoding_aes_key)}")
    try:
        key = _strict_base64(encoding_aes_key + "=")
    except (binascii.Error, ValueError):
        raise BadAesKey("EncodingAESKey is not base64 text") from None
    if len(key) != 32:
        raise BadAesKey("EncodingAESKey does not decode to 32 bytes")
    return key


def _strict_base64(text: str) -> bytes:
    """Standard base64 with padding and nothing else (no spaces, no newlines). Raises
    binascii.Error. binascii's strict mode, not b64decode(validate=True): that one runs a regex
    over the text first, a quarter of a push's decryption."""
    return binascii.a2b_base64(text, strict_mode=True)


def _unpad(data: bytes) -> bytes:
    pad = data[-1]
    if not 1 <= pad <= PAD_BLOCK or not data.endswith(_PADS[pad]):
        raise BadPadding("decrypted message does not end in 1..32 bytes of PKCS#7 padding")
    return data[:-pad]


def _pad(data: bytes) -> bytes:
    return data + _PADS[PAD_BLOCK - len(data) % PAD_BLOCK]


_PADS = [bytes([pad]) * pad for pad in range(PAD_BLOCK + 1)]


@dataclass(frozen=True)
class SealedReply:
    """The fields of an encrypted passive reply, ready for push_codec.encode_encrypted_reply."""

    encrypt: str
    msg_signature: str
    timestamp: str
    nonce: str


class AesMessageCrypto:
    """Checks WeChat's signatures and opens and seals messages for one mini program."""

    def __init__(
        self,
        token: str,
        encoding_aes_key: str | None,
        appid: str,
        random_bytes: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self._token = token
        self._key = None if encoding_aes_key is None else _aes_key(encoding_aes_key)
        # One Cipher for the key's lifetime, and one decryptor per thread from it (below).
        self._cipher = None
        if self._key is not None:
            self._cipher = Cipher(algorithms.AES(self._key), modes.CBC(self._key[:16]))
        self._decryptors = threading.local()
        self._iv_block = b"" if self._key is None else self._key[:16]
        self._appid = appid
        self._appid_bytes = appid.encode()
        self._random_bytes = random_bytes

    @property
    def has_key(self) -> bool:
        """False in plaintext mode (no EncodingAESKey): only signatures can be checked."""
        return self._key is not None

    def verify_url_signature(self, signature: str, timestamp: str, nonce: str) -> None:
        """Check `signature` of the GET handshake or a plaintext push. Raises InvalidSignature."""
        _check(_sign(self._token, timestamp, nonce), signature)

    def verify_msg_signature(
        self, msg_signature: str, timestamp: str, nonce: str, encrypt: str
    ) -> None:
        """Check `msg_signature` over `Encrypt` exactly as received. Raises InvalidSignature."""
        _check(_sign(self._token, timestamp, nonce, encrypt), msg_signature)

    def decrypt(self, encrypt: str) -> str:
        """The message inside `Encrypt`. Raises DecryptError (a subclass saying why) or NoAesKey.

        Check msg_signature first: told apart, these errors would otherwise be a padding oracle.
        """
        decryptor = self._decryptor()
        ciphertext = _ciphertext(encrypt)
        # The IV first, as a block of its own: see _decryptor. Its output is dropped.
        data = _unpad(decryptor.update(self._iv_block + ciphertext)[16:])
        if len(data) < LENGTH_END:
            raise BadLength("decrypted message is shorter than its header")
        end = LENGTH_END + int.from_bytes(data[RANDOM_SIZE:LENGTH_END], "big")
        if end > len(data):
            raise BadLength("message length runs past the decrypted bytes")
        if data[end:] != self._appid_bytes:
            raise WrongAppId(expected=self._appid, actual=data[end:].decode("utf-8", "replace"))
        try:
            return data[LENGTH_END:end].decode()
        except UnicodeDecodeError:
            raise BadPlaintext("decrypted message is not UTF-8") from None

    def encrypt(self, plaintext: str, random: bytes | None = None) -> str:
        """Base64 `Encrypt` of plaintext for this AppID; `random` is the 16-byte prefix."""
        prefix = self._random_bytes(RANDOM_SIZE) if random is None else random
        if len(prefix) != RANDOM_SIZE:
            raise ValueError(f"random prefix must be {RANDOM_SIZE} bytes")
        encryptor = self._keyed().encryptor()
        message = plaintext.encode()
        full = _pad(prefix + len(message).to_bytes(4, "big") + message + self._appid.encode())
        return base64.b64encode(encryptor.update(full) + encryptor.finalize()).decode("ascii")

    def seal(self, plaintext: str, timestamp: str, nonce: str) -> SealedReply:
        """Encrypt and sign a passive reply (safe mode sends nothing else in the clear)."""
        encrypt = self.encrypt(plaintext)
        msg_signature = _sign(self._token, timestamp, nonce, encrypt)
        return SealedReply(encrypt, msg_signature, timestamp, nonce)

    def _decryptor(self) -> CipherContext:
        """This thread's AES-CBC decryptor, kept from one push to the next (making one costs
        as much as decrypting a push). Raises NoAesKey.

        CBC decrypts each block with the ciphertext block before it, the first with the IV; so
        a decryptor that decrypted anything before, fed the IV as a block of its own, goes on
        exactly as a new one would start. It is only ever fed whole blocks, never finalized.
        """
        decryptor: CipherContext | None = getattr(self._decryptors, "decryptor", None)
        if decryptor is None:
            decryptor = self._decryptors.decryptor = self._keyed().decryptor()
        return decryptor

    def _keyed(self) -> Cipher[modes.CBC]:
        if self._cipher is None:
            raise NoAesKey("no EncodingAESKey is configured (plaintext mode)")
        return self._cipher


def _ciphertext(encrypt: str) -> bytes:
    try:
        data = _strict_base64(encrypt)
    except (binascii.Error, ValueError):
        raise BadCiphertext("Encrypt is not base64 text") from None
    if not data or len(data) % 16:
        raise BadCiphertext(f"ciphertext of {len(data)} bytes is not whole AES blocks")
    return data
