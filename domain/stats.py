"""Hit statistics: which rule answered each message, and what users typed that no rule knew."""

from __future__ import annotations

from dataclasses import dataclass

from domain.messages import Message, TextMessage
from domain.rules import DEFAULT_KEY, Match, normalise

UNMATCHED_CHARS = 64
"""Unmatched texts are kept to this many characters: enough to read, too short to hoard chats."""
TOP_UNMATCHED = 100
"""How many of a day's most frequent unmatched texts are reported."""
DAYS_KEPT = 7


@dataclass(frozen=True)
class Hit:
    """One answered message: the rule key that hit (None: nothing did) and, when no keyword or
    pattern hit a text, that text normalised as matching sees it (unless a similar question
    then answered it: `similar`)."""

    key: str | None
    unmatched: str | None = None
    similar: bool = False  # key answered by a similar question, not by its exact text


@dataclass(frozen=True)
class DayStats:
    """One day's counts, most frequent first."""

    day: str
    hits: tuple[tuple[str, int], ...] = ()
    unmatched: tuple[tuple[str, int], ...] = ()
    similar_hits: tuple[tuple[str, int], ...] = ()


def hit_for(message: Message, match: Match) -> Hit | None:
    """What to count for message; None when there is nothing (an event no rule answers)."""
    unmatched = None
    if isinstance(message, TextMessage) and match.key in (DEFAULT_KEY, None):
        unmatched = normalise(message.content)[:UNMATCHED_CHARS] or None
    if match.key is None and unmatched is None:
        return None
    return Hit(match.key, unmatched)


SIMILAR_PREFIX = "@similar:"
"""How a similar-question hit on a key is stored beside exact hits: no rule key starts with an
`@` other than @enter and @match, so it never meets a real key."""


def counted_as(hit: Hit) -> str | None:
    """The name hit is counted under among the day's hits."""
    if hit.key is None:
        return None
    return SIMILAR_PREFIX + hit.key if hit.similar else hit.key


def day_stats(day: str, hits: dict[str, int], unmatched: tuple[tuple[str, int], ...]) -> DayStats:
    """A day's stored counts as reported: similar-question hits apart from exact ones."""
    exact = {name: n for name, n in hits.items() if not name.startswith(SIMILAR_PREFIX)}
    similar = {
        name.removeprefix(SIMILAR_PREFIX): n
        for name, n in hits.items()
        if name.startswith(SIMILAR_PREFIX)
    }
    return DayStats(day, ranked(exact), unmatched, ranked(similar))


def ranked(counts: dict[str, int], limit: int | None = None) -> tuple[tuple[str, int], ...]:
    """Most frequent first; ties in text order, so a report reads the same every time."""
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return tuple(ordered[:limit] if limit is not None else ordered)


class NoHitStats:
    """KEFU_STATS=off: keeps nothing and reports nothing."""

    def record(self, hit: Hit) -> None:
        """Forget hit at once."""

    def days(self, count: int) -> tuple[DayStats, ...]:
        return ()
