"""Hit statistics: which rule answered each message, and what users typed that no rule knew."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from domain.messages import Message, TextMessage
from domain.rules import DEFAULT_KEY, Match, normalise

UNMATCHED_CHARS = 64
"""Unmatched texts are kept to this many characters: enough to read, too short to hoard chats."""
TOP_UNMATCHED = 100
"""How many of a day's most frequent unmatched texts are reported."""
DAYS_KEPT = 7
ASKER_HEX = 16
"""Hex digits of an asker's hash: 64 bits, enough to tell a day's askers apart, no openid."""


@dataclass(frozen=True)
class Hit:
    """One answered message: the rule key that hit (None: nothing did) and, when no keyword or
    pattern hit a text, that text normalised as matching sees it, with `asker`: a short hash of
    the user and that text, so a store counts one user's text once a day (None: every time);
    `similar`: the key answered by a similar question, not by its exact text."""

    key: str | None
    unmatched: str | None = None
    asker: str | None = None
    similar: bool = False


@dataclass(frozen=True)
class DayStats:
    """One day's counts, most frequent first."""

    day: str
    hits: tuple[tuple[str, int], ...] = ()
    unmatched: tuple[tuple[str, int], ...] = ()
    similar_hits: tuple[tuple[str, int], ...] = ()


def hit_for(message: Message, match: Match) -> Hit | None:
    """What to count for message; None when there is nothing (an event no rule answers)."""
    if isinstance(message, TextMessage) and match.key in (DEFAULT_KEY, None):
        text = normalise(message.content)
        if text:
            return unmatched_hit(match.key, message.from_user, text)
    return None if match.key is None else Hit(match.key)


def unmatched_hit(key: str | None, user: str, text: str) -> Hit:
    """The hit for user's non-empty normalised text that no rule knew, as stores count it."""
    kept = text[:UNMATCHED_CHARS]
    return Hit(key, kept, asker(user, kept))


def asker(user: str, text: str) -> str:
    """Who asked text, as stores keep it: hashed with the text, never the openid itself."""
    # surrogatepass: a forged push may hold lone surrogates, which must not stop the count.
    pair = f"{len(user)}:{user}{text}".encode("utf-8", "surrogatepass")
    return hashlib.sha256(pair).hexdigest()[:ASKER_HEX]


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
