"""The push ledger, counting the pushes it finds already claimed: WeChat's retries."""

from __future__ import annotations

from adapters.metrics.definitions import DUPLICATE_PUSHES
from domain.ledger import PushLedger


class CountingLedger(PushLedger):
    """A PushLedger that counts each claim it refuses in kefu_duplicate_pushes_total."""

    def claim(self, key: str) -> bool:
        owned = super().claim(key)
        if not owned:
            DUPLICATE_PUSHES.inc()
        return owned
