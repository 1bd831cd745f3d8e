"""Hit statistics in Redis: atomic per-day counters that every host adds to."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence

import redis
from redis.exceptions import RedisError

from adapters.stats.calendar import RETENTION_SECONDS, TRACKED_UNMATCHED, day_of, last_days
from domain.errors import KefuError
from domain.stats import TOP_UNMATCHED, DayStats, Hit, counted_as, day_stats, ranked


class RedisStatsUnavailable(KefuError):
    """Redis did not take or give the counts."""


class RedisHitStats:
    """Per day, a hash of hits by rule key (HINCRBY) and a sorted set of unmatched texts
    (ZINCRBY), under ``<prefix><namespace>:stats:<day>:…``, expiring after eight days.

    `namespace` is the AppID, so mini programs sharing one Redis keep apart counts.
    """

    def __init__(
        self,
        namespace: str,
        url: str | None = None,
        client: redis.Redis | None = None,
        prefix: str = "kefu:",
        *,
        socket_timeout: float = 2.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if client is None:
            if url is None:
                raise ValueError("RedisHitStats needs a url or a client")
            client = redis.Redis.from_url(
                url,
                decode_responses=True,
                socket_timeout=socket_timeout,
                socket_connect_timeout=socket_timeout,
            )
        self._client = client
        self._base = f"{prefix}{namespace}:stats:"
        self._clock = clock

    def record(self, hit: Hit) -> None:
        """Add hit to today's counts in one round trip. Raises RedisStatsUnavailable."""
        self.record_all((hit,))

    def record_all(self, hits: Sequence[Hit]) -> None:
        """Add hits to today's counts in one round trip. Raises RedisStatsUnavailable."""
        keys, texts = Counter[str](), Counter[str]()
        for hit in hits:
            name = counted_as(hit)
            keys.update(() if name is None else (name,))
            texts.update(() if hit.unmatched is None else (hit.unmatched,))
        hits_key, unmatched = self._keys(day_of(self._clock()))
        pipe = self._client.pipeline(transaction=False)
        for key, times in keys.items():
            pipe.hincrby(hits_key, key, times)
        if keys:
            pipe.expire(hits_key, RETENTION_SECONDS)
        for text, times in texts.items():
            pipe.zincrby(unmatched, times, text)
        if texts:
            # Keep the most frequent texts only: rank 0 is the least frequent.
            pipe.zremrangebyrank(unmatched, 0, -TRACKED_UNMATCHED - 1)
            pipe.expire(unmatched, RETENTION_SECONDS)
        try:
            pipe.execute()
        except RedisError as error:
            raise RedisStatsUnavailable(f"redis unavailable: {type(error).__name__}") from error

    def days(self, count: int) -> tuple[DayStats, ...]:
        """The last `count` days, today first. Raises RedisStatsUnavailable."""
        dates = last_days(self._clock(), count)
        pipe = self._client.pipeline(transaction=False)
        for day in dates:
            hits, unmatched = self._keys(day)
            pipe.hgetall(hits)
            pipe.zrevrange(unmatched, 0, TRACKED_UNMATCHED - 1, withscores=True)
        try:
            answers = pipe.execute()
        except RedisError as error:
            raise RedisStatsUnavailable(f"redis unavailable: {type(error).__name__}") from error
        return tuple(
            day_stats(
                day,
                {_text(k): int(v) for k, v in answers[2 * n].items()},
                ranked({_text(t): int(s) for t, s in answers[2 * n + 1]}, TOP_UNMATCHED),
            )
            for n, day in enumerate(dates)
        )

    def close(self) -> None:
        self._client.close()

    def _keys(self, day: str) -> tuple[str, str]:
        return f"{self._base}{day}:hits", f"{self._base}{day}:unmatched"


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value
