"""What has become of each push: claimed for handling, and which reply parts WeChat accepted."""

from __future__ import annotations

import logging
from collections.abc import Callable

from domain.errors import KefuError
from domain.ports import StateStore

log = logging.getLogger(__name__)

# NOTE: WeChat retries within seconds; an hour outlives its retries and the replay window.
CLAIM_TTL = 3600.0


class PushLedger:
    """Claims pushes so WeChat's retries send nothing twice, on any worker that shares the store.

    A store that fails never costs a reply: the push is then handled as if it were new.
    """

    def __init__(self, store: StateStore, ttl: float = CLAIM_TTL) -> None:
        self._store = store
        self._ttl = ttl

    def claim(self, key: str) -> bool:
        """True when this call owns the push; False when another copy has it or had it."""
        try:
            return self._store.add(f"claim:{key}", "1", self._ttl)
        except KefuError as failure:
            log.warning("cannot record push %s, handling it anyway: %s", key, failure)
            return True

    def release(self, key: str) -> None:
        """Let WeChat's next retry of this push be handled (parts already sent stay sent)."""
        self._forgiving(lambda: self._store.delete(f"claim:{key}"))

    def delivered(self, key: str, part: str) -> bool:
        try:
            return self._store.get(f"sent:{key}:{part}") is not None
        except KefuError as failure:
            log.warning("cannot read progress of push %s: %s", key, failure)
            return False

    def mark_delivered(self, key: str, part: str) -> None:
        self._forgiving(lambda: self._store.set(f"sent:{key}:{part}", "1", self._ttl))

    @staticmethod
    def _forgiving(action: Callable[[], None]) -> None:
        try:
            action()
        except KefuError as failure:
            log.warning("state store unavailable: %s", failure)
