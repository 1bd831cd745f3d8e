"""WeChat's side of API security mode for the sandbox: requests verified and opened, answers sealed.

Written from the guide (服务端 API 签名加密指南) apart from kefu's adapter, so the end-to-end tests
check one reading of the guide against another.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAX_REQUEST_AGE = 300
# The guide's errcodes for requests the mode refuses (section 五).
MISSING_TIMESTAMP, MISSING_SIGNATURE, MISSING_APPID = 40231, 40232, 40233
INVALID_SIGNATURE, INVALID_ENCRYPT, INVALID_APPID, EXPIRED_TIMESTAMP = 40234, 40235, 40236, 40240


@dataclass(frozen=True)
class SandboxSecurity:
    """What WeChat holds for one mini program: its public key, the symmetric key, its own key."""

    appid: str
    aes_key: bytes = field(repr=False)
    aes_sn: str
    app_public_key: rsa.RSAPublicKey = field(repr=False)
    platform_key: rsa.RSAPrivateKey = field(repr=False)
    cert_sn: str
    clock: Callable[[], float] = time.time

    @cached_property
    def rogue_key(self) -> rsa.RSAPrivateKey:
        """A key that is not the platform's, for answers signed under 'another certificate'."""
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def open_request(self, url: str, headers: Mapping[str, str], raw: bytes) -> tuple[int, bytes]:
        """(0, the original JSON parameters) for a genuine sealed request, else (errcode, b"")."""
        appid, stamp = headers.get("Wechatmp-Appid"), headers.get("Wechatmp-TimeStamp")
        signature = headers.get("Wechatmp-Signature")
        for value, missing in ((appid, MISSING_APPID), (stamp, MISSING_TIMESTAMP)):
            if not value:
                return missing, b""
        if not signature:
            return MISSING_SIGNATURE, b""
        if appid != self.appid:
            return INVALID_APPID, b""
        if not str(stamp).isdigit() or abs(self.clock() - int(str(stamp))) > MAX_REQUEST_AGE:
            return EXPIRED_TIMESTAMP, b""
        signed = f"{url}\n{appid}\n{stamp}\n".encode() + raw
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
        try:
            self.app_public_key.verify(base64.b64decode(signature), signed, pss, hashes.SHA256())
        except (InvalidSignature, binascii.Error, ValueError):
            return INVALID_SIGNATURE, b""
        return self._decrypt(url, int(str(stamp)), raw)

    def seal_answer(
        self, url: str, answer: Mapping[str, object], tamper: str | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """The encrypted, signed answer body and its Wechatmp-* headers (none when unsigned)."""
        if tamper == "unsigned":
            return json.dumps(dict(answer)).encode(), {}
        stamp = int(self.clock())
        plain = {"_n": "sandbox", "_appid": self.appid, "_timestamp": stamp, **answer}
        iv = b"sandbox-iv12"
        aad = f"{url}|{self.appid}|{stamp}|{self.aes_sn}".encode()
        sealed = AESGCM(self.aes_key).encrypt(iv, json.dumps(plain).encode(), aad)
        parts = {"iv": iv, "data": sealed[:-16], "authtag": sealed[-16:]}
        body = json.dumps({k: base64.b64encode(v).decode() for k, v in parts.items()}).encode()
        signer = self.rogue_key if tamper == "certificate" else self.platform_key
        signed = f"{url}\n{self.appid}\n{stamp}\n".encode() + body
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
        signature = signer.sign(signed, pss, hashes.SHA256())
        if tamper == "data":
            at = body.index(b'"data": "') + 12
            body = body[:at] + (b"B" if body[at : at + 1] == b"A" else b"A") + body[at + 1 :]
        elif tamper == "signature":
            signature = _flip(signature, 7)
        headers = {
            "Wechatmp-Appid": self.appid,
            "Wechatmp-TimeStamp": str(stamp),
            "Wechatmp-Serial": self.cert_sn,
            "Wechatmp-Signature": base64.b64encode(signature).decode(),
        }
        return body, headers

    def _decrypt(self, url: str, stamp: int, raw: bytes) -> tuple[int, bytes]:
        aad = f"{url}|{self.appid}|{stamp}|{self.aes_sn}".encode()
        try:
            sealed = json.loads(raw)
            iv, data, tag = (base64.b64decode(sealed[k]) for k in ("iv", "data", "authtag"))
            plain = json.loads(AESGCM(self.aes_key).decrypt(iv, data + tag, aad))
        except (ValueError, KeyError, TypeError, binascii.Error, InvalidTag):
            return INVALID_ENCRYPT, b""
        if not isinstance(plain, dict) or plain.get("_appid") != self.appid:
            return INVALID_ENCRYPT, b""
        if plain.get("_timestamp") != stamp or not plain.get("_n"):
            return INVALID_ENCRYPT, b""
        params = {k: v for k, v in plain.items() if k not in ("_n", "_appid", "_timestamp")}
        return 0, json.dumps(params, ensure_ascii=False).encode()


def _flip(data: bytes, index: int) -> bytes:
    changed = bytearray(data)
    changed[index] ^= 0x01
    return bytes(changed)
