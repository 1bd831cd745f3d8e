"""Counting hits from the use cases: best effort, never at the cost of an answer."""

from __future__ import annotations

import logging

from domain.ports import HitStats
from domain.stats import Hit, NoHitStats

log = logging.getLogger(__name__)


class BestEffortStats:
    """Counts hits without ever costing a message its answer: a failure is logged once."""

    def __init__(self, stats: HitStats | None) -> None:
        self._stats: HitStats = stats if stats is not None else NoHitStats()
        self._failed = False

    def record(self, hit: Hit) -> None:
        try:
            self._stats.record(hit)
        except Exception as failure:
            if not self._failed:
                self._failed = True
                log.warning("hit statistics not counted (logged once): %s", failure)
