"""The push ledger, counting the pushes it finds already claimed: WeChat's retries."""

from __future__ import annotations

from adapters.metrics.definitions import DUPLICATE_PUSHES
from domain.ledger import PushLedger


class CountingLedger(PushLedger):
    """A PushLedger that counts each claim it finds taken already in kefu_duplicate_pushes_total."""

    def seen(self, key: str) -> bool:
        known = super().seen(key)
        if known:
            DUPLICATE_PUSHES.inc()
        return known
