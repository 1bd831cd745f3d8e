"""Fixtures every test folder may use: the session's Redis and a key prefix of the test's own."""

from __future__ import annotations

import os
import urllib.parse
import uuid
from collections.abc import Iterator

import pytest
import redis

from tests.redis_server import OwnRedis


def _redacted(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    return parts._replace(netloc=f"***@{parts.hostname}:{parts.port}").geturl()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """KEFU_TEST_REDIS_URL when set, else a redis-server the session starts on a free port."""
    configured = os.environ.get("KEFU_TEST_REDIS_URL")
    if configured:
        yield configured
        return
    server = OwnRedis()
    server.start()
    yield server.url
    server.kill()


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(
        redis_url, decode_responses=True, socket_timeout=1, socket_connect_timeout=1
    )
    try:
        client.ping()
    except redis.RedisError as error:
        client.close()
        pytest.fail(f"Redis not reachable at {_redacted(redis_url)}: {error}")
    yield client
    client.close()


@pytest.fixture
def redis_prefix(redis_client: redis.Redis) -> Iterator[str]:
    prefix = f"kefu-test:{uuid.uuid4().hex}:"
    yield prefix
    keys = list(redis_client.scan_iter(match=prefix + "*"))
    if keys:
        redis_client.delete(*keys)
