"""The keys of WeChat's API security mode (API安全), read and checked once at start-up."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from domain.errors import KefuError


class ApiKeysError(KefuError):
    """A key or certificate of API security mode is unusable (its content is never shown)."""


@dataclass(frozen=True)
class ApiKeys:
    """The symmetric key, the app's private key and the platform certificate, with their SNs.

    The SNs are the numbers the console's key page shows, not serial numbers inside certificates.
    """

    aes_key: bytes = field(repr=False)
    aes_sn: str
    rsa_key: RSAPrivateKey = field(repr=False)
    rsa_sn: str
    platform_key: RSAPublicKey = field(repr=False)
    cert_sn: str


def load_api_keys(
    aes_key: str, aes_sn: str, rsa_key_file: Path, rsa_sn: str, cert_file: Path, cert_sn: str
) -> ApiKeys:
    """The six settings as usable keys. Raises ApiKeysError naming the setting at fault."""
    return ApiKeys(
        _aes_key(aes_key),
        aes_sn,
        _rsa_key(rsa_key_file),
        rsa_sn,
        _platform_key(cert_file),
        cert_sn,
    )


def _aes_key(text: str) -> bytes:
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ApiKeysError("KEFU_API_AES_KEY is not base64 text") from None
    if len(key) != 32:
        raise ApiKeysError("KEFU_API_AES_KEY does not decode to 32 bytes (AES256_GCM)")
    return key


def _read(path: Path, name: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise ApiKeysError(f"{name} {str(path)!r} cannot be read: {error.strerror}") from None


def _rsa_key(path: Path) -> RSAPrivateKey:
    try:
        key = load_pem_private_key(_read(path, "KEFU_API_RSA_KEY_FILE"), password=None)
    except (ValueError, TypeError):
        # The library's message may quote the file; say only what is wrong.
        raise ApiKeysError("KEFU_API_RSA_KEY_FILE is not an unencrypted PEM private key") from None
    if not isinstance(key, RSAPrivateKey):
        raise ApiKeysError(
            "KEFU_API_RSA_KEY_FILE is not an RSA key (only RSAwithSHA256 is supported)"
        )
    return key


def _platform_key(path: Path) -> RSAPublicKey:
    try:
        cert = x509.load_pem_x509_certificate(_read(path, "KEFU_API_CERT_FILE"))
    except ValueError:
        raise ApiKeysError("KEFU_API_CERT_FILE is not a PEM X.509 certificate") from None
    key = cert.public_key()
    if not isinstance(key, RSAPublicKey):
        raise ApiKeysError("KEFU_API_CERT_FILE does not hold an RSA key (RSAwithSHA256)")
    return key
