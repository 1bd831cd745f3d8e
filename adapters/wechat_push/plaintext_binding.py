"""Plaintext signatures cover only timestamp and nonce, so each is bound to one use: a GET's
echostr or one push body."""

from __future__ import annotations

import hashlib
import logging

from adapters.wechat_push.errors import InvalidSignature
from domain.ports import StateStore

log = logging.getLogger(__name__)

# What a URL verification binds its signature to; a push binds the bare digest of its body, so
# the two can never be equal and one purpose's signature is refused for the other.
_VERIFICATION = "verify:"


class SignatureReused(InvalidSignature):
    """A signature seen before on another request: a captured query string replayed."""


class PlaintextBinding:
    """Remembers what came first with each (signature, timestamp, nonce), for `ttl` s.

    WeChat's `signature` covers neither the body nor the method, so anyone who saw one query
    string (of a push or of a URL verification) could attach other bodies to it, or turn a GET's
    into a push. The first use keeps it: WeChat's retry of the same body passes, another body or
    the other method is refused. The store is shared by every worker and host. A store that
    fails lets the request through (a genuine push is never lost), with a warning.
    """

    def __init__(self, store: StateStore, ttl: float) -> None:
        self._store = store
        self._ttl = ttl

    def bind_push(self, signature: str, timestamp: str, nonce: str, body: bytes) -> None:
        """Raises SignatureReused when this signature came with another body or a GET before."""
        self._bind(signature, timestamp, nonce, _sha256(body))

    def bind_verification(self, signature: str, timestamp: str, nonce: str, echostr: str) -> None:
        """Raises SignatureReused when this signature came with a push or another echostr."""
        self._bind(signature, timestamp, nonce, _VERIFICATION + _sha256(echostr.encode()))

    def _bind(self, signature: str, timestamp: str, nonce: str, use: str) -> None:
        key = "plainsig:" + _sha256(f"{signature}\n{timestamp}\n{nonce}".encode())
        try:
            if self._store.add(key, use, self._ttl):
                return
            first = self._store.get(key)
        except Exception as failure:  # whatever the store raises, a genuine push goes through
            log.warning("cannot check signature reuse, accepting the request: %s", failure)
            return
        if first is not None and first != use:
            raise SignatureReused("signature already used on another request")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
