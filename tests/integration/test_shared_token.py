"""SharedTokenCache: one access token for every worker and host, through each state store."""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
import redis
import responses
from responses import matchers

from adapters.state.disk import DiskStateStore, DiskStateUnavailable
from adapters.state.guard import GuardedStateStore
from adapters.state.locks import LockingStore
from adapters.state.memory import MemoryStateStore
from adapters.state.redis import RedisStateStore, RedisUnavailable
from adapters.wechat_api.client import RequestsWeChatApi
from adapters.wechat_api.errors import WeChatApiError
from adapters.wechat_api.shared_tokens import SharedTokenCache
from adapters.wechat_api.tokens import IssuedToken, TokenStore
from domain.replies import TextReply
from tests.fakes import FakeClock

APPID = "wx0123456789abcdef"
SECRET = "appsecret-5f2d9c0e7a1b"
TOKEN_URL = "https://api.weixin.qq.com/cgi-bin/stable_token"
SEND_URL = "https://api.weixin.qq.com/cgi-bin/message/custom/send"
LIFETIME = 7200
NEAR_EXPIRY = LIFETIME - 200  # seconds after the fetch, with less than five minutes left


class CountingFetch:
    """Hands out the given tokens in turn, optionally slowly, counting its calls."""

    def __init__(self, *tokens: str, delay: float = 0.0) -> None:
        self.tokens, self.delay, self.calls = list(tokens), delay, 0
        self._mutex = threading.Lock()

    def __call__(self) -> IssuedToken:
        with self._mutex:
            self.calls += 1
            value = self.tokens[min(self.calls, len(self.tokens)) - 1]
        time.sleep(self.delay)
        return IssuedToken(value, LIFETIME)


def never_fetch() -> IssuedToken:
    raise AssertionError("a worker fetched although a valid token was shared")


def worker(store: LockingStore, clock: FakeClock | None = None, **kwargs: float) -> TokenStore:
    return SharedTokenCache(store, clock=clock or FakeClock(), **kwargs)


@pytest.fixture
def store() -> MemoryStateStore:
    return MemoryStateStore()


def test_many_gets_from_many_workers_share_one_fetch(store: MemoryStateStore) -> None:
    fetch = CountingFetch("TOKEN-A", delay=0.05)
    workers = [worker(store) for _ in range(4)]

    def many_gets(number: int) -> set[str]:
        return {workers[number % 4].get(fetch) for _ in range(10)}

    with ThreadPoolExecutor(16) as pool:
        seen = set().union(*pool.map(many_gets, range(16)))
    assert (fetch.calls, seen) == (1, {"TOKEN-A"})


def test_a_token_is_reused_until_less_than_five_minutes_are_left(store: MemoryStateStore) -> None:
    clock = FakeClock()
    first = worker(store, clock)
    assert first.get(CountingFetch("TOKEN-A")) == "TOKEN-A"
    clock.now += LIFETIME - 301
    assert worker(store, clock).get(never_fetch) == "TOKEN-A"


def test_near_expiry_one_worker_renews_while_the_others_keep_the_current_token(
    store: MemoryStateStore,
) -> None:
    clock = FakeClock()
    renewer, others = worker(store, clock), [worker(store, clock) for _ in range(3)]
    renewer.get(CountingFetch("TOKEN-A"))
    clock.now += NEAR_EXPIRY
    started, release = threading.Event(), threading.Event()

    def slow_renewal() -> IssuedToken:
        started.set()
        release.wait(timeout=10)
        return IssuedToken("TOKEN-B", LIFETIME)

    renewals = CountingFetch()
    with ThreadPoolExecutor(1) as pool:
        renewed = pool.submit(renewer.get, slow_renewal)
        assert started.wait(timeout=10)
        began = time.monotonic()
        during = {other.get(renewals) for other in others for _ in range(5)}
        waited = time.monotonic() - began
        release.set()
        assert renewed.result(timeout=10) == "TOKEN-B"
    assert (during, renewals.calls) == ({"TOKEN-A"}, 0)
    assert waited < 0.5
    assert {other.get(never_fetch) for other in others} == {"TOKEN-B"}


def test_a_failed_renewal_keeps_the_current_token_until_it_expires(
    store: MemoryStateStore,
) -> None:
    clock = FakeClock()
    cache = worker(store, clock)
    cache.get(CountingFetch("TOKEN-A"))

    def failing() -> IssuedToken:
        raise WeChatApiError(-1, "system error")

    clock.now += NEAR_EXPIRY
    assert cache.get(failing) == "TOKEN-A"
    clock.now += 200
    with pytest.raises(WeChatApiError):
        cache.get(failing)


def test_workers_that_wait_in_vain_for_a_fetch_fetch_themselves(
    store: MemoryStateStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    fetch = CountingFetch("TOKEN-A")
    with store.lock("token", timeout=1) as stuck:  # a worker that hangs mid-fetch
        assert stuck
        began = time.monotonic()
        assert worker(store, lock_timeout=0.2).get(fetch) == "TOKEN-A"
        assert 0.2 <= time.monotonic() - began < 2
    assert worker(store).get(never_fetch) == "TOKEN-A"
    assert fetch.calls == 1
    assert "no shared access token within 0.2 s" in caplog.text
    assert "TOKEN-A" not in caplog.text


def test_a_rejected_token_another_worker_already_replaced_stays_replaced(
    store: MemoryStateStore,
) -> None:
    first, second = worker(store), worker(store)
    assert first.get(CountingFetch("TOKEN-1")) == "TOKEN-1"
    second.invalidate("TOKEN-1")
    assert second.get(CountingFetch("TOKEN-2")) == "TOKEN-2"
    first.invalidate("TOKEN-1")  # the first worker's late 40001 on the old token
    assert first.get(never_fetch) == "TOKEN-2"


def test_a_rejected_current_token_is_replaced_for_every_worker(store: MemoryStateStore) -> None:
    first, second = worker(store), worker(store)
    first.get(CountingFetch("TOKEN-1"))
    first.invalidate("TOKEN-1")
    assert first.get(CountingFetch("TOKEN-2")) == "TOKEN-2"
    assert second.get(never_fetch) == "TOKEN-2"


def test_an_unreadable_shared_entry_is_replaced_by_a_fresh_token(store: MemoryStateStore) -> None:
    store.set("token", "not json", 60)
    assert worker(store).get(CountingFetch("TOKEN-A")) == "TOKEN-A"
    assert worker(store).get(never_fetch) == "TOKEN-A"


class BrokenStore:
    """A state store whose every operation fails while `broken`, like Redis going away."""

    def __init__(self) -> None:
        self.inner, self.broken = MemoryStateStore(), True

    def _check(self) -> None:
        if self.broken:
            raise RedisUnavailable("ConnectionError: Error 111 connecting to 127.0.0.1:6379")

    def add(self, key: str, value: str, ttl: float) -> bool:
        self._check()
        return self.inner.add(key, value, ttl)

    def get(self, key: str) -> str | None:
        self._check()
        return self.inner.get(key)

    def set(self, key: str, value: str, ttl: float) -> None:
        self._check()
        self.inner.set(key, value, ttl)

    def delete(self, key: str) -> None:
        self._check()
        self.inner.delete(key)

    def lock(self, name: str, timeout: float) -> AbstractContextManager[bool]:
        self._check()
        return self.inner.lock(name, timeout)


def test_a_failing_store_still_gives_a_token_and_a_warning_without_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fetch, store = CountingFetch("TOKEN-A", "TOKEN-B"), GuardedStateStore(BrokenStore())
    cache = worker(store)
    assert [cache.get(fetch) for _ in range(5)] == ["TOKEN-A"] * 5
    cache.invalidate("TOKEN-A")
    assert cache.get(fetch) == "TOKEN-B"
    assert fetch.calls == 2
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "redis unavailable" in caplog.text
    assert "TOKEN-A" not in caplog.text


def test_a_worker_goes_back_to_the_shared_token_once_the_store_recovers() -> None:
    clock, backend = FakeClock(), BrokenStore()
    cache = worker(GuardedStateStore(backend, probe_every=30, clock=clock), clock)
    cache.get(CountingFetch("LOCAL"))
    backend.broken = False
    worker(backend, clock).get(CountingFetch("SHARED"))
    assert cache.get(never_fetch) == "LOCAL"
    clock.now += 31
    assert cache.get(never_fetch) == "SHARED"


def test_a_token_fetch_failure_is_raised_once_and_not_taken_for_a_store_failure(
    store: MemoryStateStore, caplog: pytest.LogCaptureFixture
) -> None:
    calls = []

    def refused() -> IssuedToken:
        calls.append(1)
        raise WeChatApiError(40164, "invalid ip, not in whitelist")

    with pytest.raises(WeChatApiError, match="40164"):
        worker(store).get(refused)
    assert len(calls) == 1
    assert "state store" not in caplog.text


# --- two RequestsWeChatApi instances (two workers) against `responses` ---


def api(store: LockingStore) -> RequestsWeChatApi:
    return RequestsWeChatApi(APPID, SECRET, tokens=SharedTokenCache(store))


@pytest.fixture
def wechat() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


def issue(mock: responses.RequestsMock, token: str) -> responses.BaseResponse:
    answer = {"access_token": token, "expires_in": LIFETIME}
    issued: responses.BaseResponse = mock.post(TOKEN_URL, json=answer)
    return issued


def answer_send(mock: responses.RequestsMock, token: str, errcode: int = 0) -> None:
    match = [matchers.query_param_matcher({"access_token": token})]
    mock.post(SEND_URL, json={"errcode": errcode, "errmsg": "ok"}, match=match)


def test_two_api_workers_sharing_a_store_fetch_one_token_for_many_sends(
    wechat: responses.RequestsMock, store: MemoryStateStore
) -> None:
    fetch = issue(wechat, "TOKEN-A")
    answer_send(wechat, "TOKEN-A")
    workers = [api(store), api(store)]
    for number in range(10):
        workers[number % 2].send("OPENID", TextReply("hello"))
    assert fetch.call_count == 1


def test_a_token_one_api_worker_replaced_after_40001_serves_the_other(
    wechat: responses.RequestsMock, store: MemoryStateStore
) -> None:
    issue(wechat, "TOKEN-1")
    fetches = issue(wechat, "TOKEN-2")
    answer_send(wechat, "TOKEN-1", errcode=40001)
    answer_send(wechat, "TOKEN-2")
    first, second = api(store), api(store)
    first.send("OPENID", TextReply("hello"))
    second.send("OPENID", TextReply("hello again"))
    assert fetches.call_count == 1  # TOKEN-1 once, TOKEN-2 once, nothing more


# --- real processes sharing one state directory, and one Redis ---


def _gets_in_process(kind: str, where: str, prefix: str, record: str, barrier, results) -> None:
    store: LockingStore = (
        DiskStateStore(Path(where)) if kind == "disk" else RedisStateStore(where, prefix=prefix)
    )

    def recording_fetch() -> IssuedToken:
        with open(record, "a") as log:
            log.write(f"{os.getpid()}\n")
        time.sleep(0.2)  # a slow fetch gives the others every chance to fetch too
        return IssuedToken(f"TOKEN-{os.getpid()}", LIFETIME)

    cache = SharedTokenCache(store)
    barrier.wait(timeout=60)
    results.put({cache.get(recording_fetch) for _ in range(30)})


def _many_gets_in_processes(kind: str, where: str, record: Path, prefix: str = "") -> set[str]:
    context = multiprocessing.get_context("spawn")
    barrier, results, racers = context.Barrier(3), context.Queue(), 3
    args = (kind, where, prefix, str(record), barrier, results)
    processes = [context.Process(target=_gets_in_process, args=args) for _ in range(racers)]
    for process in processes:
        process.start()
    seen: set[str] = set().union(*(results.get(timeout=60) for _ in processes))
    for process in processes:
        process.join(timeout=10)
        assert process.exitcode == 0
    return seen


def test_processes_sharing_one_state_dir_fetch_exactly_one_token(tmp_path: Path) -> None:
    record = tmp_path / "fetches.txt"
    seen = _many_gets_in_processes("disk", str(tmp_path / "state"), record)
    fetchers = record.read_text().split()
    assert len(fetchers) == 1
    assert seen == {f"TOKEN-{fetchers[0]}"}


def test_processes_sharing_one_redis_fetch_exactly_one_token(
    tmp_path: Path, redis_url: str, redis_client: redis.Redis, redis_prefix: str
) -> None:
    record = tmp_path / "fetches.txt"
    seen = _many_gets_in_processes("redis", redis_url, record, redis_prefix)
    fetchers = record.read_text().split()
    assert len(fetchers) == 1
    assert seen == {f"TOKEN-{fetchers[0]}"}
    ttl = redis_client.pttl(f"{redis_prefix}token")
    assert (LIFETIME - 60) * 1000 < ttl <= LIFETIME * 1000  # the entry lives as long as the token


def test_an_unusable_state_dir_still_gives_a_token(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    store = DiskStateStore(not_a_dir)
    with pytest.raises(DiskStateUnavailable):
        store.get("probe")
    assert worker(GuardedStateStore(store)).get(CountingFetch("TOKEN-A")) == "TOKEN-A"


def test_an_unreachable_redis_still_gives_a_token() -> None:
    store = RedisStateStore("redis://127.0.0.1:1/0", socket_timeout=0.5)
    assert worker(GuardedStateStore(store)).get(CountingFetch("TOKEN-A")) == "TOKEN-A"
