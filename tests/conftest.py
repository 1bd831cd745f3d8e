"""Fixtures every test folder may use: a Redis client and a key prefix of the test's own."""

from __future__ import annotations

import os
import urllib.parse
import uuid
from collections.abc import Iterator

import pytest
import redis

from tests.redis_server import REDIS_URL


def _redacted(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    return parts._replace(netloc=f"***@{parts.hostname}:{parts.port}").geturl()


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(
        REDIS_URL, decode_responses=True, socket_timeout=1, socket_connect_timeout=1
    )
    try:
        client.ping()
    except redis.RedisError:
        client.close()
        message = (
            f"Redis not reachable at {_redacted(REDIS_URL)}; start one with: "
            "redis-server --port 6379 --save '' --daemonize yes"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    yield client
    client.close()


@pytest.fixture
def redis_prefix(redis_client: redis.Redis) -> Iterator[str]:
    prefix = f"kefu-test:{uuid.uuid4().hex}:"
    yield prefix
    keys = list(redis_client.scan_iter(match=prefix + "*"))
    if keys:
        redis_client.delete(*keys)
