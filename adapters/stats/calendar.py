"""The days hit statistics are filed under: the host's local calendar date."""

from __future__ import annotations

import datetime

# NOTE: a day longer than DAYS_KEPT so that the oldest day shown is still whole when read.
RETENTION_SECONDS = 8 * 24 * 3600
TRACKED_UNMATCHED = 1000
"""Distinct unmatched texts kept per day: more than reported, so that new texts can climb."""
ASKERS_KEPT = 100_000
"""Askers (hashes of a user and a text) remembered per day, so that one user's text counts once;
beyond this many, a day counts no new unmatched text (a bound on what one day may store)."""
ASKERS_SECONDS = 2 * 24 * 3600
"""How long a day's askers are remembered: they matter only while that day is counted."""


def day_of(timestamp: float) -> str:
    """The ISO date of timestamp in the host's time zone."""
    return datetime.date.fromtimestamp(timestamp).isoformat()


def last_days(timestamp: float, count: int) -> list[str]:
    """The ISO dates of the `count` days ending with timestamp's, newest first."""
    today = datetime.date.fromtimestamp(timestamp)
    return [(today - datetime.timedelta(days=back)).isoformat() for back in range(count)]
