"""WeChat's API security mode: requests sealed (AES256_GCM) and signed, answers verified and opened.

Follows 服务端 API 签名加密指南 (miniprogram/dev/server/getting_started/api_signature); its
worked examples are the test vectors in tests/integration/test_api_security.py.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from adapters.state.memory import MemoryStateStore
from adapters.wechat_api.api_keys import ApiKeys
from adapters.wechat_api.errors import UnverifiedAnswer
from domain.ports import StateStore

log = logging.getLogger(__name__)

IV_SIZE = 12
NONCE_SIZE = 16
# NOTE: the guide signs requests with RSA-PSS, salt 32 bytes ("签名使用PSS填充方式,需要指定salt长度
# 为32"), not PKCS#1 v1.5; its response example verifies only as PSS. Answers: salt not fixed.
REQUEST_PADDING = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
ANSWER_PADDING = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)
SECURITY_FIELDS = ("_n", "_appid", "_timestamp")
MAX_ANSWER_AGE = 300  # seconds an answer's Wechatmp-TimeStamp may be from our clock
# An answer is taken once: remembered while its timestamp could still pass the check above.
ANSWER_MEMORY = 2 * MAX_ANSWER_AGE


@dataclass(frozen=True)
class SealedRequest:
    body: bytes
    headers: dict[str, str]


class ApiSecurity:
    """Seals requests and opens answers for one mini program; thread-safe."""

    def __init__(
        self,
        appid: str,
        keys: ApiKeys,
        clock: Callable[[], float] = time.time,
        random_bytes: Callable[[int], bytes] = os.urandom,
        new_nonce: Callable[[], str] | None = None,
        answers: StateStore | None = None,
    ) -> None:
        """random_bytes makes the 12-byte IVs, new_nonce the `_n` text (16 random bytes' base64);
        answers remembers the answers taken (the shared state store: every worker and host)."""
        self._appid = appid
        self._keys = keys
        self._clock = clock
        self._random_bytes = random_bytes
        self._new_nonce = new_nonce or self._random_nonce
        self._answers: StateStore = answers if answers is not None else MemoryStateStore()
        self._refusing = False  # within an episode of refused answers (logged once)

    def seal(self, url: str, params: Mapping[str, Any]) -> SealedRequest:
        """The encrypted body and Wechatmp-* headers for a call to url (no query) with params."""
        timestamp = int(self._clock())
        plain = {"_n": self._new_nonce(), "_appid": self._appid, "_timestamp": timestamp, **params}
        body = _compact(self._encrypt(url, timestamp, _compact(plain), self._random_bytes(IV_SIZE)))
        message = f"{url}\n{self._appid}\n{timestamp}\n".encode() + body
        signed = self._keys.rsa_key.sign(message, REQUEST_PADDING, hashes.SHA256())
        headers = {
            "Wechatmp-Appid": self._appid,
            "Wechatmp-TimeStamp": str(timestamp),
            "Wechatmp-Signature": base64.b64encode(signed).decode(),
            # NOTE: the guide's header table lists no serial for requests and its signed text has
            # none (WxJava PR #3780 adds the key SN to the signed text; we follow the guide). Its
            # error table has 40230 "missing Wechatmp_Serial", so the key's SN is sent, unsigned.
            "Wechatmp-Serial": self._keys.rsa_sn,
        }
        return SealedRequest(body, headers)

    def open(self, url: str, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
        """The answer's parameters once its signature verified, it decrypted, and it is new.

        Raises UnverifiedAnswer for anything else, unsigned error answers included: whoever is
        on the path can write `{"errcode":45015}`, so only WeChat's signature makes a verdict.
        The first refusal of an episode is logged; the episode ends when an answer verifies.
        """
        path = "/" + url.split("/", 3)[-1]
        try:
            fields = self._verified(url, path, headers, body)
        except UnverifiedAnswer as refused:
            if not self._refusing:
                self._refusing = True
                log.error(
                    "%s; such answers count as uncertain (a send is not repeated, a token not "
                    "dropped) and are not logged again until an answer verifies",
                    refused.reason,
                )
            raise
        if self._refusing:
            self._refusing = False
            log.info("answers from WeChat's API verify again")
        return fields

    def _verified(
        self, url: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> dict[str, Any]:
        signature = self._signature(path, headers)
        if signature is None:
            raise UnverifiedAnswer(path, "answer is not signed" + _claimed(body))
        timestamp = headers.get("Wechatmp-TimeStamp", "")
        if headers.get("Wechatmp-Appid") != self._appid or not timestamp.isdigit():
            raise UnverifiedAnswer(path, "Wechatmp-Appid or Wechatmp-TimeStamp is not ours")
        message = f"{url}\n{self._appid}\n{timestamp}\n".encode() + body
        try:
            self._keys.platform_key.verify(signature, message, ANSWER_PADDING, hashes.SHA256())
        except InvalidSignature:
            raise UnverifiedAnswer(path, "signature does not verify") from None
        if abs(self._clock() - int(timestamp)) > MAX_ANSWER_AGE:
            raise UnverifiedAnswer(path, "Wechatmp-TimeStamp is too far from our clock")
        fields = self._decrypt(url, path, int(timestamp), body)
        # NOTE: the guide ties nothing in an answer to its request (its example answer carries
        # its own `_n` and `_timestamp`); the signed URL path and AAD tie it to the call. So a
        # genuine answer is bound to one request by being taken once, by every worker and host:
        # replayed for another send within the 300 s, it is refused.
        digest = hashlib.sha256(body).hexdigest()
        if not self._answers.add("apianswer:" + digest, path, ANSWER_MEMORY):
            raise UnverifiedAnswer(path, "answer was already taken for another call (replayed)")
        return fields

    def _random_nonce(self) -> str:
        return base64.b64encode(self._random_bytes(NONCE_SIZE)).decode().rstrip("=")

    def _signature(self, path: str, headers: Mapping[str, str]) -> bytes | None:
        # NOTE: while WeChat changes certificates it signs twice; the -Deprecated pair carries
        # the old certificate's signature (guide 4.1).
        if "Wechatmp-Signature" not in headers:
            return None
        wanted = self._keys.cert_sn
        if headers.get("Wechatmp-Serial") == wanted:
            value = headers.get("Wechatmp-Signature", "")
        elif headers.get("Wechatmp-Serial-Deprecated") == wanted:
            log.warning(
                "WeChat's platform certificate %s is being replaced: download the new one", wanted
            )
            value = headers.get("Wechatmp-Signature-Deprecated", "")
        else:
            raise UnverifiedAnswer(path, "signed with a certificate other than KEFU_API_CERT_SN")
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise UnverifiedAnswer(path, "Wechatmp-Signature is not base64") from None

    def _encrypt(self, url: str, timestamp: int, plain: bytes, iv: bytes) -> dict[str, str]:
        sealed = AESGCM(self._keys.aes_key).encrypt(iv, plain, self._aad(url, timestamp))
        data, tag = sealed[:-16], sealed[-16:]
        return {"iv": _b64(iv), "data": _b64(data), "authtag": _b64(tag)}

    def _decrypt(self, url: str, path: str, timestamp: int, body: bytes) -> dict[str, Any]:
        try:
            sealed = json.loads(body)
            iv, data, tag = (
                base64.b64decode(sealed[k], validate=True) for k in ("iv", "data", "authtag")
            )
            plain = AESGCM(self._keys.aes_key).decrypt(iv, data + tag, self._aad(url, timestamp))
            fields = json.loads(plain)
        except (ValueError, KeyError, TypeError, binascii.Error, InvalidTag):
            raise UnverifiedAnswer(path, "answer does not decrypt") from None
        if not isinstance(fields, dict):
            raise UnverifiedAnswer(path, "decrypted answer is not a JSON object")
        if fields.get("_appid") != self._appid or fields.get("_timestamp") != timestamp:
            raise UnverifiedAnswer(path, "decrypted _appid or _timestamp is not the answer's")
        return {k: v for k, v in fields.items() if k not in SECURITY_FIELDS}

    def _aad(self, url: str, timestamp: int) -> bytes:
        return f"{url}|{self._appid}|{timestamp}|{self._keys.aes_sn}".encode()


def _claimed(body: bytes) -> str:
    """What an unsigned answer claims, for the log: its errcode when it has a numeric one."""
    try:
        fields = json.loads(body)
    except ValueError:
        return ""
    errcode = fields.get("errcode") if isinstance(fields, dict) else None
    if isinstance(errcode, int) and not isinstance(errcode, bool):
        return f" (it claims errcode {errcode})"
    return ""


def _compact(value: Mapping[str, Any]) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
