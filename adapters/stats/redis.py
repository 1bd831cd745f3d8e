"""Hit statistics in Redis: atomic per-day counters that every host adds to."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence

from redis.exceptions import RedisError, ResponseError

from adapters.state.redis import bytes_client
from adapters.state.stored import StoredValues, storable
from adapters.stats.calendar import (
    ASKERS_KEPT,
    ASKERS_SECONDS,
    RETENTION_SECONDS,
    TRACKED_UNMATCHED,
    day_of,
    last_days,
)
from domain.errors import KefuError
from domain.stats import TOP_UNMATCHED, DayStats, Hit, counted_as, day_stats, ranked

# Counts each (asker, text) pair whose asker is new today (SADD answers 1), or that has none,
# keeps the TRACKED most frequent texts (rank 0 is the least frequent), and refreshes expiry.
# KEYS: unmatched texts, askers. ARGV: retention, tracked, askers kept, askers' seconds, then
# (asker, text) pairs.
_COUNT_UNMATCHED = """
local counted = 0
for i = 5, #ARGV, 2 do
  local new = ARGV[i] == ''
  if not new and redis.call('SCARD', KEYS[2]) < tonumber(ARGV[3]) then
    new = redis.call('SADD', KEYS[2], ARGV[i]) == 1
  end
  if new then
    redis.call('ZINCRBY', KEYS[1], 1, ARGV[i + 1])
    counted = counted + 1
  end
end
if counted > 0 then
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -tonumber(ARGV[2]) - 1)
  redis.call('EXPIRE', KEYS[1], ARGV[1])
end
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('EXPIRE', KEYS[2], ARGV[4]) end
return counted
"""


class RedisStatsUnavailable(KefuError):
    """Redis did not take or give the counts."""


class RedisHitStats:
    """Per day, a hash of hits by rule key (HINCRBY), a sorted set of unmatched texts (ZINCRBY)
    and a set of the day's askers, so one user's text counts once a day; all under
    ``<prefix><namespace>:stats:<day>:…``, expiring after eight days.

    `namespace` is the AppID, so mini programs sharing one Redis keep apart counts. Replies are
    read as bytes and decoded by `StoredValues`: a member kefu did not write is left out.
    """

    def __init__(
        self,
        namespace: str,
        url: str,
        prefix: str = "kefu:",
        *,
        socket_timeout: float = 2.0,
        clock: Callable[[], float] = time.time,
        askers_kept: int = ASKERS_KEPT,
    ) -> None:
        self._client = bytes_client(url, socket_timeout)
        self._count_unmatched = self._client.register_script(_COUNT_UNMATCHED)
        self._base = f"{prefix}{namespace}:stats:"
        self._clock = clock
        self._askers_kept = askers_kept
        self._values = StoredValues("statistics in Redis")

    def record(self, hit: Hit) -> None:
        """Add hit to today's counts in one round trip. Raises RedisStatsUnavailable."""
        self.record_all((hit,))

    def record_all(self, hits: Sequence[Hit]) -> None:
        """Add hits to today's counts in one round trip. Raises RedisStatsUnavailable."""
        names = (counted_as(hit) for hit in hits)
        keys = Counter(storable(name) for name in names if name is not None)
        asked = [
            arg
            for hit in hits
            if hit.unmatched is not None
            for arg in (hit.asker or "", storable(hit.unmatched))
        ]
        hits_key, unmatched, askers = self._keys(day_of(self._clock()))
        pipe = self._client.pipeline(transaction=False)
        for key, times in keys.items():
            pipe.hincrby(hits_key, key, times)
        if keys:
            pipe.expire(hits_key, RETENTION_SECONDS)
        if asked:
            limits = (RETENTION_SECONDS, TRACKED_UNMATCHED, self._askers_kept, ASKERS_SECONDS)
            self._count_unmatched([unmatched, askers], [*limits, *asked], client=pipe)
        try:
            answers = pipe.execute(raise_on_error=False)
        except RedisError as error:
            raise RedisStatsUnavailable(f"redis unavailable: {type(error).__name__}") from error
        if any(isinstance(answer, ResponseError) for answer in answers):
            # The other counts went in: only what meets a planted key or field is not counted.
            self._values.missing("count", "a key or field of another type")

    def days(self, count: int) -> tuple[DayStats, ...]:
        """The last `count` days, today first. Raises RedisStatsUnavailable."""
        dates = last_days(self._clock(), count)
        pipe = self._client.pipeline(transaction=False)
        for day in dates:
            hits, unmatched, _ = self._keys(day)
            pipe.hgetall(hits)
            pipe.zrevrange(unmatched, 0, TRACKED_UNMATCHED - 1, withscores=True)
        try:
            # A key of another type (planted) answers an error of its own: read as missing.
            answers = pipe.execute(raise_on_error=False)
        except RedisError as error:
            raise RedisStatsUnavailable(f"redis unavailable: {type(error).__name__}") from error
        return tuple(
            day_stats(
                day,
                self._counts(answers[2 * n], "hit count"),
                ranked(self._counts(answers[2 * n + 1], "unmatched text"), TOP_UNMATCHED),
            )
            for n, day in enumerate(dates)
        )

    def close(self) -> None:
        self._client.close()

    def _counts(self, answer: object, kind: str) -> dict[str, int]:
        """A hash's fields or a sorted set's members with their counts, kefu's own only."""
        if isinstance(answer, ResponseError):
            self._values.missing(kind, "a key of another type")
            return {}
        pairs = list(answer.items()) if isinstance(answer, dict) else answer
        counts = {}
        for raw_name, raw_count in pairs if isinstance(pairs, list) else ():
            name, count = self._values.text(raw_name, kind), self._values.count(raw_count, kind)
            if name is not None and count is not None:
                counts[name] = count
        return counts

    def _keys(self, day: str) -> tuple[str, str, str]:
        base = f"{self._base}{day}"
        return f"{base}:hits", f"{base}:unmatched", f"{base}:askers"
