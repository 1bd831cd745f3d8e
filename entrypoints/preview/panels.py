"""The preview's side panels: the rules report as `kefu rules check` gives it, and the stats."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

from adapters.rules.errors import RulesFetchError
from adapters.rules.last_good import rule_count
from domain.errors import KefuError
from domain.ports import HitStats
from domain.rules_document import ParsedRules
from entrypoints.cli.rules_table import Say, report_rows
from entrypoints.preview.similar import SimilarExplainer

View = dict[str, object]
NEAREST_SHOWN = 20
"""Unmatched texts per day given their nearest standard question (each costs one match)."""
REFRESH_AT_LEAST = 2.0
"""Seconds a report is reused at least, however short KEFU_RULES_TTL is."""


class CheckedSource(Protocol):
    def check(self) -> ParsedRules:
        """Read and parse the document now. Raises RulesFetchError."""
        ...


class RulesReport:
    """The document read afresh at most once per ttl: a change shows within KEFU_RULES_TTL."""

    def __init__(
        self,
        source: Callable[[], CheckedSource],
        ttl: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source = source
        self._ttl = max(ttl, REFRESH_AT_LEAST)
        self._clock = clock
        self._cached: tuple[float, ParsedRules | RulesFetchError] | None = None
        self._lock = threading.Lock()

    def current(self, say: Say = str) -> View:
        """The report, in the language `say` speaks."""
        with self._lock:
            if self._cached is None or self._clock() >= self._cached[0]:
                self._cached = (self._clock() + self._ttl, self._read())
            checked = self._cached[1]
        if isinstance(checked, RulesFetchError):
            return {"error": str(checked), "rows": []}
        return _view(checked, say)

    def _read(self) -> ParsedRules | RulesFetchError:
        try:
            return self._source().check()
        except RulesFetchError as failure:
            return failure


def _view(parsed: ParsedRules, say: Say) -> View:
    rows = report_rows(parsed, say)
    return {
        "rows": [
            {"key": key, "type": kind, "summary": summary, "problems": problems}
            for key, kind, summary, problems in rows
        ],
        "in_force": rule_count(parsed.rules),
        "rejected": len({problem.key for problem in parsed.problems}),
    }


class StatsPanel:
    """The running service's counts, read from the shared state (or why there are none: KEFU_STATS
    is off, or the service's settings are not set, so there is no state to read)."""

    def __init__(
        self, store: HitStats | None, enabled: bool, similar: SimilarExplainer | None = None
    ) -> None:
        self._store = store
        self._enabled = enabled
        self._similar = similar

    def days(self, count: int) -> View:
        if self._store is None:
            return {"enabled": False, "why": "unset", "days": []}
        if not self._enabled:
            return {"enabled": False, "why": "off", "days": []}
        try:
            found = self._store.days(count)
        except KefuError as failure:
            return {"enabled": True, "days": [], "error": str(failure)}
        return {
            "enabled": True,
            "days": [
                {
                    "day": day.day,
                    "hits": day.hits,
                    "unmatched": day.unmatched,
                    "similar_hits": day.similar_hits,
                    "nearest": self._nearest(day.unmatched),
                }
                for day in found
            ],
        }

    def _nearest(self, unmatched: tuple[tuple[str, int], ...]) -> dict[str, View | None]:
        """For each frequent unmatched text, its nearest standard question (or None)."""
        if self._similar is None:
            return {}
        return {text: self._similar.nearest(text) for text, _ in unmatched[:NEAREST_SHOWN]}
