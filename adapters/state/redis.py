"""State store in Redis, shared by every process on every host that points at it."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import redis
from redis.exceptions import RedisError

from adapters.state.locks import LOCK_TTL, TokenLocks, check_ttl
from adapters.state.stored import StoredValues, storable
from domain.errors import KefuError

STATE_TIMEOUT = 0.25
"""Seconds any state call may take. Claims sit on the push's path and WeChat waits 5 s: a
frozen Redis must cost a push far less (the guard then fails fast for a while)."""


class RedisUnavailable(KefuError):
    """Redis did not answer in time or refused the command."""

    def __init__(self, reason: str) -> None:
        # redis-py's messages name host and port, never the password in the URL.
        super().__init__(f"redis unavailable: {reason}")
        self.reason = reason


class RedisStateStore:
    """Shared state in Redis under `prefix`, one round trip per operation.

    `add` is ``SET NX PX``, atomic on the server. A lock is ``SET NX PX`` of a random token
    under ``<prefix>lock:<name>``, released by a Lua compare-and-delete; it expires after
    ``max(timeout, lock_ttl)`` seconds so a crashed holder cannot block the others forever.
    redis-py's connection pool notices a fork and opens new connections in the child.
    """

    def __init__(
        self,
        url: str,
        prefix: str = "kefu:",
        *,
        socket_timeout: float = STATE_TIMEOUT,
        lock_ttl: float = LOCK_TTL,
        poll_interval: float = 0.02,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        random_bytes: Callable[[int], bytes] = os.urandom,
    ) -> None:
        client = bytes_client(url, socket_timeout)
        self._client = client
        self._prefix = prefix
        self._values = StoredValues("state store in Redis")
        self._delete_if = client.register_script(_DELETE_IF_TOKEN)
        self._locks = TokenLocks(
            self.add, self._release, lock_ttl, poll_interval, clock, sleep, random_bytes
        )

    def add(self, key: str, value: str, ttl: float) -> bool:
        """Set key only when absent (or expired); True when this call set it."""
        check_ttl(ttl)
        with _guard():
            added = self._client.set(self._key(key), storable(value), nx=True, px=_millis(ttl))
        return bool(added)

    def get(self, key: str) -> str | None:
        with _guard():
            value = self._client.get(self._key(key))
        return self._values.text(value, "state value")

    def set(self, key: str, value: str, ttl: float) -> None:
        check_ttl(ttl)
        with _guard():
            self._client.set(self._key(key), storable(value), px=_millis(ttl))

    def delete(self, key: str) -> None:
        with _guard():
            self._client.delete(self._key(key))

    def lock(self, name: str, timeout: float) -> AbstractContextManager[bool]:
        """Wait up to `timeout` seconds for the lock; yield whether it is held."""
        return self._locks.hold(name, timeout)

    def close(self) -> None:
        """Return this store's connections; the next call opens new ones."""
        self._client.close()

    def _release(self, key: str, token: str) -> None:
        # It may have expired and been won by someone else: theirs stays (the token differs).
        with _guard():
            self._delete_if(keys=[self._key(key)], args=[token])

    def _key(self, key: str) -> str:
        return self._prefix + storable(key)


_DELETE_IF_TOKEN = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def bytes_client(url: str, socket_timeout: float) -> redis.Redis:
    """A client for KEFU_REDIS_URL that gives bytes, for `StoredValues` to decode.

    redis-py decoding replies itself would raise out of the client on a value that is not
    UTF-8 (planted, or written by another program), losing the rest of the reply.
    """
    return redis.Redis.from_url(
        url,
        decode_responses=False,
        socket_timeout=socket_timeout,
        socket_connect_timeout=socket_timeout,
        health_check_interval=30,
    )


@contextmanager
def _guard() -> Iterator[None]:
    try:
        yield
    except RedisError as error:
        raise RedisUnavailable(f"{type(error).__name__}: {error}") from error


def _millis(ttl: float) -> int:
    return max(1, math.ceil(ttl * 1000))
