"""What a failing store costs: bad bytes read as missing, a stuck lock a short wait once, and a
Redis that went away is used again within seconds of coming back."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest
import redis

from adapters.state.guard import GuardedStateStore
from adapters.state.memory import MemoryStateStore
from adapters.state.redis import RedisStateStore
from adapters.wechat_api.shared_tokens import TOKEN_KEY, SharedTokenCache
from adapters.wechat_api.tokens import TOKEN_LOCK_TIMEOUT, IssuedToken
from tests.redis_server import OwnRedis


@pytest.fixture
def own_redis() -> Iterator[OwnRedis]:
    server = OwnRedis()
    server.start()
    yield server
    server.kill()


def test_a_value_that_is_not_utf8_reads_as_missing(
    redis_url: str, redis_client: redis.Redis, redis_prefix: str
) -> None:
    raw = redis.Redis.from_url(redis_url)
    raw.set(f"{redis_prefix}{TOKEN_KEY}", b"\xff\xfe\x00planted", px=60_000)
    store = RedisStateStore(redis_url, prefix=redis_prefix)
    assert store.get(TOKEN_KEY) is None
    # The shared token is replaced by a fresh one, so sends go on.
    cache = SharedTokenCache(GuardedStateStore(store))
    assert cache.get(lambda: IssuedToken("TOKEN-FRESH", 7200)) == "TOKEN-FRESH"
    assert store.get(TOKEN_KEY) is not None
    raw.close()


def test_a_redis_that_comes_back_is_used_again_within_seconds(
    own_redis: OwnRedis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="adapters.state.guard")
    store = GuardedStateStore(RedisStateStore(own_redis.url, socket_timeout=0.5))
    assert store.add("claim:1", "1", 60) is True
    own_redis.kill()
    began = time.monotonic()
    for number in range(200):  # a burst of pushes while Redis is down
        assert store.add(f"claim:down:{number}", "1", 60) is True
    assert time.monotonic() - began < 2  # failing fast, not a socket timeout per call
    own_redis.start()
    back = time.monotonic()
    while not store.available and time.monotonic() - back < 10:
        store.get("probe")
        time.sleep(0.05)
    assert store.available
    assert time.monotonic() - back < 4
    assert store.add("claim:2", "1", 60) is True
    assert store.add("claim:2", "1", 60) is False  # claims are shared again
    outages = [r.getMessage() for r in caplog.records if "state store" in r.getMessage()]
    assert len(outages) == 2
    assert outages[0].startswith("state store unavailable")
    assert outages[1] == "state store available again"


def test_a_lock_someone_else_holds_on_the_token_costs_one_short_wait() -> None:
    store = MemoryStateStore()
    fetched: list[int] = []

    def fetch() -> IssuedToken:
        fetched.append(1)
        return IssuedToken("TOKEN-A", 7200)

    with store.lock(TOKEN_KEY, timeout=60) as held_elsewhere:  # never given back in the test
        assert held_elsewhere
        cache = SharedTokenCache(store)
        began = time.monotonic()
        assert cache.get(fetch) == "TOKEN-A"
        first = time.monotonic() - began
        began = time.monotonic()
        assert [cache.get(fetch) for _ in range(5)] == ["TOKEN-A"] * 5
        later = time.monotonic() - began
    assert TOKEN_LOCK_TIMEOUT <= 2.0
    assert first < TOKEN_LOCK_TIMEOUT + 0.5
    assert later < 0.1
    assert fetched == [1]
