"""How the rules are doing, for /readyz, `kefu status` and the Prometheus metrics."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from adapters.metrics.definitions import (
    RULES_KEYWORDS,
    RULES_LAST_REFRESH_OK,
    RULES_LOADED,
    RULES_REFRESHES,
    RULES_REJECTED,
    RULES_VERSION,
)


@dataclass(frozen=True)
class RulesStatus:
    """The rules in force (version None: none yet), when they were last fetched, what failed."""

    source: str
    version: str | None = None
    keys: int = 0
    rejected: int = 0
    fetched_at: float | None = None  # Unix time of the latest successful fetch or check
    failing: str | None = None  # why the latest refresh failed; None when it succeeded


class RulesHealth:
    """Records each refresh's outcome and each version taken into force."""

    def __init__(self, source: str, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._status = RulesStatus(source)

    @property
    def status(self) -> RulesStatus:
        with self._lock:
            return self._status

    def accepted(self, version: str, keys: int, rejected: int) -> None:
        with self._lock:
            self._status = replace(self._status, version=version, keys=keys, rejected=rejected)
        RULES_KEYWORDS.set(keys)
        RULES_REJECTED.set(rejected)
        RULES_VERSION.set(int(version[:8], 16) if _is_hex(version[:8]) else 0)

    def succeeded(self) -> None:
        now = self._clock()
        with self._lock:
            self._status = replace(self._status, fetched_at=now, failing=None)
        RULES_REFRESHES.labels("ok").inc()
        RULES_LAST_REFRESH_OK.set(1)
        RULES_LOADED.set(now)

    def failed(self, reason: str) -> None:
        with self._lock:
            self._status = replace(self._status, failing=reason)
        RULES_REFRESHES.labels("failed").inc()
        RULES_LAST_REFRESH_OK.set(0)


def _is_hex(text: str) -> bool:
    return bool(text) and all(c in "0123456789abcdef" for c in text.lower())
