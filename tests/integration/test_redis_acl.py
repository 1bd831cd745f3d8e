"""docs/security.md's Redis ACL line on a Redis of the test's own: kefu works within it, only."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from adapters.state.redis import RedisStateStore, RedisUnavailable
from tests.redis_server import OwnRedis

SECURITY = (Path(__file__).resolve().parents[2] / "docs" / "security.md").read_text("utf-8")


def documented_acl() -> str:
    """The ACL rule docs/security.md gives operators, with the test's password for PASSWORD."""
    rule = re.search(r"`(user kefu on [^`]+)`", SECURITY)
    assert rule, "docs/security.md gives no `user kefu on …` rule"
    return rule.group(1).replace(">PASSWORD", ">kefu-acl-pass-2026")


ACL = documented_acl()


@pytest.fixture
def acl_redis() -> Iterator[int]:
    server = OwnRedis("--user", *ACL.split()[1:])
    server.start()
    yield server.port
    server.kill()


def test_kefu_works_as_the_acl_user_the_security_guide_describes(acl_redis: int):
    store = RedisStateStore(f"redis://kefu:kefu-acl-pass-2026@127.0.0.1:{acl_redis}/0")
    assert store.add("claim:x", "1", 60) is True
    assert store.add("claim:x", "1", 60) is False
    store.set("token", "t", 60)
    assert store.get("token") == "t"
    with store.lock("media:y", timeout=1) as held:
        assert held
    store.delete("token")
    assert store.get("token") is None
    store.close()


def test_the_acl_user_can_touch_nothing_outside_kefus_keys(acl_redis: int):
    client = redis.Redis(
        port=acl_redis, username="kefu", password="kefu-acl-pass-2026", socket_timeout=1
    )
    with pytest.raises(redis.exceptions.NoPermissionError):
        client.set("other-app:secret", "x")
    with pytest.raises(redis.exceptions.NoPermissionError):
        client.flushall()
    wrong = RedisStateStore(f"redis://kefu:wrong@127.0.0.1:{acl_redis}/0")
    with pytest.raises(RedisUnavailable):
        wrong.get("token")
