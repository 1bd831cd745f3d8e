"""When a previous Token or EncodingAESKey last opened a push, kept in the shared state store."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from domain.errors import KefuError
from domain.ports import StateStore

log = logging.getLogger(__name__)

PREVIOUS_USED_KEY = "rotation:previous_used"
# Kept well past any rotation: "unused for N hours" needs the last use, however old.
REMEMBER_FOR = 90 * 24 * 3600.0


@dataclass(frozen=True)
class PreviousUse:
    """The last push a previous credential opened: when (epoch seconds), and which setting."""

    at: float
    which: str

    def hours_ago(self, now: float) -> float:
        return max(0.0, now - self.at) / 3600


class PreviousUseLog:
    """Records each push a previous credential opened, for `kefu status`; never raises."""

    def __init__(self, store: StateStore, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock

    def __call__(self, which: str) -> None:
        value = json.dumps({"at": self._clock(), "which": which})
        try:
            self._store.set(PREVIOUS_USED_KEY, value, REMEMBER_FOR)
        except KefuError as failure:
            log.warning("cannot record the use of %s: %s", which, failure)


def last_previous_use(store: StateStore) -> PreviousUse | None:
    """When a previous credential last opened a push, or None (never, or not recorded).

    Raises KefuError when the store cannot be read.
    """
    raw = store.get(PREVIOUS_USED_KEY)
    if raw is None:
        return None
    try:
        data = json.loads(raw)
        return PreviousUse(float(data["at"]), str(data["which"]))
    except (ValueError, KeyError, TypeError):
        return None
