"""One day's counts as the disk statistics keep them: JSON text, read back member by member."""

from __future__ import annotations

import json

from adapters.state.stored import StoredValues
from domain.stats import TOP_UNMATCHED, DayStats, day_stats, ranked

KIND = "day of counts"


class DayRecord:
    """Hits by rule key, times by unmatched text, how many askers the day remembers, and in
    how many rows (adapters.stats.disk_askers)."""

    def __init__(
        self,
        hits: dict[str, int] | None = None,
        unmatched: dict[str, int] | None = None,
        askers: int = 0,
        asker_rows: int = 0,
    ) -> None:
        self.hits = hits or {}
        self.unmatched = unmatched or {}
        self.askers = askers
        self.asker_rows = asker_rows

    @classmethod
    def from_json(cls, raw: str | None, values: StoredValues) -> DayRecord:
        """The record raw holds; an empty one for none, or for what kefu did not write."""
        if raw is None:
            return cls()
        try:
            found = json.loads(raw)
        except ValueError:
            found = None
        if not isinstance(found, dict):
            values.missing(KIND, "not the JSON object kefu writes")
            return cls()
        askers = values.count(found.get("askers", 0), KIND)
        rows = values.count(found.get("asker_rows", 0), KIND)
        hits, unmatched = (_counts(found.get(part), values) for part in ("hits", "unmatched"))
        return cls(hits, unmatched, askers or 0, rows or 0)

    def count_hit(self, key: str | None) -> None:
        if key is not None:
            self.hits[key] = self.hits.get(key, 0) + 1

    def count_unmatched(self, text: str) -> None:
        self.unmatched[text] = self.unmatched.get(text, 0) + 1

    def keep_most_frequent(self, tracked: int) -> None:
        if len(self.unmatched) > tracked:
            self.unmatched = dict(ranked(self.unmatched, tracked))

    def to_json(self) -> str:
        parts = {
            "hits": self.hits,
            "unmatched": self.unmatched,
            "askers": self.askers,
            "asker_rows": self.asker_rows,
        }
        return json.dumps(parts, ensure_ascii=False)

    def day_stats(self, day: str) -> DayStats:
        """The day as reported: similar-question hits apart from exact ones."""
        return day_stats(day, self.hits, ranked(self.unmatched, TOP_UNMATCHED))


def _counts(found: object, values: StoredValues) -> dict[str, int]:
    """Every member of found that is a text with a count; the others are left out, logged."""
    if found is None:
        return {}
    if not isinstance(found, dict):
        values.missing(KIND, "counts that are not an object")
        return {}
    counts = {}
    for name, raw in found.items():
        count = values.count(raw, KIND)
        if count is not None:
            counts[name] = count
    return counts
