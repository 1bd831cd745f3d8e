"""Plaintext pushes: a signature covers only timestamp and nonce, so it is bound to its body."""

from __future__ import annotations

import hashlib
import logging

from adapters.wechat_push.errors import InvalidSignature
from domain.ports import StateStore

log = logging.getLogger(__name__)


class SignatureReused(InvalidSignature):
    """A plaintext signature seen before with another body: a captured query string replayed."""


class PlaintextBinding:
    """Remembers which body came first with each (signature, timestamp, nonce), for `ttl` s.

    In plaintext mode WeChat's `signature` does not cover the body, so anyone who saw one query
    string could attach other bodies to it. The first body keeps it: WeChat's retry of the same
    body passes, another body is refused. A store that fails lets the push through (a genuine
    push is never lost), with a warning.
    """

    def __init__(self, store: StateStore, ttl: float) -> None:
        self._store = store
        self._ttl = ttl

    def bind(self, signature: str, timestamp: str, nonce: str, body: bytes) -> None:
        """Raises SignatureReused when this signature came with another body before."""
        key = "plainsig:" + _sha256(f"{signature}\n{timestamp}\n{nonce}".encode())
        digest = _sha256(body)
        try:
            if self._store.add(key, digest, self._ttl):
                return
            first = self._store.get(key)
        except Exception as failure:  # whatever the store raises, a genuine push goes through
            log.warning("cannot check plaintext signature reuse, accepting the push: %s", failure)
            return
        if first is not None and first != digest:
            raise SignatureReused("plaintext signature already used with another body")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
