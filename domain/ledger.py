"""What has become of each push: claimed for handling, and which reply parts WeChat accepted."""

from __future__ import annotations

import logging

from domain.ports import StateStore

log = logging.getLogger(__name__)

# NOTE: WeChat retries within seconds; an hour outlives its retries and the replay window.
CLAIM_TTL = 3600.0


class PushLedger:
    """Claims pushes so WeChat's retries send nothing twice, on any worker that shares the store.

    The store is expected to carry on when its backend fails (the container guards it): a claim
    is then granted, so a push is handled rather than lost.
    """

    def __init__(self, store: StateStore, ttl: float = CLAIM_TTL) -> None:
        self._store = store
        self._ttl = ttl

    def claim(self, key: str) -> bool:
        """True when this call owns the push; False when another copy has it or had it."""
        return self._store.add(f"claim:{key}", "1", self._ttl)

    def delivered(self, key: str, part: str) -> bool:
        return self._store.get(f"sent:{key}:{part}") is not None

    def mark_delivered(self, key: str, part: str) -> None:
        self._store.set(f"sent:{key}:{part}", "1", self._ttl)

    def mark_uncertain(self, key: str, part: str) -> None:
        """Record a part that may have reached WeChat, so that it is not sent again either."""
        self._store.set(f"sent:{key}:{part}", "?", self._ttl)
