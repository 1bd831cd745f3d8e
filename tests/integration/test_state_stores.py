"""One behaviour suite for every state store: in memory, diskcache on this host, and Redis."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from adapters.state.disk import DiskStateStore, DiskStateUnavailable
from adapters.state.locks import LockingStore
from adapters.state.memory import MemoryStateStore
from adapters.state.redis import RedisStateStore, RedisUnavailable

LOCK_TTL = 0.3  # stores under test let an abandoned lock lapse quickly
TTL = 0.3


class OffsetClock:
    """Real monotonic time plus however far a test has moved it forward."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@dataclass(frozen=True)
class Harness:
    store: LockingStore
    peer: LockingStore  # another handle on the same shared state (another worker)
    wait: Callable[[float], None]  # let this much time pass, as the store sees it


@pytest.fixture(params=["memory", "disk", "redis"])
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    if request.param == "memory":
        clock = OffsetClock()
        memory = MemoryStateStore(clock, lock_ttl=LOCK_TTL)
        yield Harness(memory, memory, clock.advance)
    elif request.param == "disk":
        disk, peer = (DiskStateStore(tmp_path, lock_ttl=LOCK_TTL) for _ in range(2))
        yield Harness(disk, peer, time.sleep)
        disk.close()
        peer.close()
    else:
        url, prefix = request.getfixturevalue("redis_url"), request.getfixturevalue("redis_prefix")
        red, other = (RedisStateStore(url, prefix=prefix, lock_ttl=LOCK_TTL) for _ in "ab")
        yield Harness(red, other, time.sleep)
        red.close()
        other.close()


def test_adding_a_key_twice_sets_it_only_the_first_time(harness: Harness) -> None:
    assert harness.store.add("claim", "first", 30) is True
    assert harness.peer.add("claim", "second", 30) is False
    assert harness.peer.get("claim") == "first"


def test_an_added_key_expires_after_its_ttl_and_can_be_claimed_again(harness: Harness) -> None:
    harness.store.add("claim", "first", TTL)
    harness.wait(TTL + 0.2)
    assert harness.store.get("claim") is None
    assert harness.peer.add("claim", "second", TTL) is True


def test_a_set_key_is_read_back_until_its_ttl_ends(harness: Harness) -> None:
    harness.store.set("token", "abc", TTL)
    assert harness.peer.get("token") == "abc"
    harness.wait(TTL + 0.2)
    assert harness.peer.get("token") is None


def test_set_overwrites_and_delete_removes(harness: Harness) -> None:
    harness.store.set("token", "old", 30)
    harness.store.set("token", "new", 30)
    assert harness.peer.get("token") == "new"
    harness.peer.delete("token")
    harness.peer.delete("token")
    assert harness.store.get("token") is None
    assert harness.store.get("never-set") is None


@pytest.mark.parametrize("kind", ["disk", "redis"])
def test_keys_and_values_with_lone_surrogates_are_kept_as_valid_text(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if kind == "disk":
        store: DiskStateStore | RedisStateStore = DiskStateStore(tmp_path)
    else:
        url, prefix = (request.getfixturevalue(name) for name in ("redis_url", "redis_prefix"))
        store = RedisStateStore(url, prefix=prefix)
    assert store.add("claim:o_\ud800", "1", 60) is True
    assert store.add("claim:o_\ud800", "1", 60) is False
    store.set("user:\udfff", "bad\ud83dpair\ud83d\ude00", 60)
    assert store.get("user:\udfff") == "bad\ufffdpair😀"
    store.close()


def test_a_ttl_that_is_not_positive_is_refused(harness: Harness) -> None:
    with pytest.raises(ValueError, match="ttl"):
        harness.store.add("claim", "x", 0)
    with pytest.raises(ValueError, match="ttl"):
        harness.store.set("claim", "x", -1)


def test_only_one_holder_at_a_time_is_inside_the_lock(harness: Harness) -> None:
    inside, most_inside, held = [0], [0], []
    count = threading.Lock()

    def work(store: LockingStore) -> None:
        for _ in range(5):
            with store.lock("refresh", timeout=5) as won:
                held.append(won)
                with count:
                    inside[0] += 1
                    most_inside[0] = max(most_inside[0], inside[0])
                time.sleep(0.01)
                with count:
                    inside[0] -= 1

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(work, [harness.store, harness.peer]))
    assert held == [True] * 10
    assert most_inside == [1]


def test_a_lock_not_won_in_time_yields_false_after_waiting(harness: Harness) -> None:
    # The holder's lease (its timeout, or the store's lock_ttl if longer) outlasts any stall of
    # a loaded machine between the two calls: only the peer's wait is measured.
    with harness.store.lock("refresh", timeout=30) as first:
        started = time.monotonic()
        with harness.peer.lock("refresh", timeout=0.2) as second:
            waited = time.monotonic() - started
    assert (first, second) == (True, False)
    assert waited >= 0.2


def test_a_released_lock_can_be_taken_at_once(harness: Harness) -> None:
    with harness.store.lock("refresh", timeout=1) as first:
        assert first
    with harness.peer.lock("refresh", timeout=0) as second:
        assert second


def test_a_lock_whose_holder_died_lapses_by_itself(harness: Harness) -> None:
    crashed = harness.store.lock("refresh", timeout=0.1)
    assert crashed.__enter__() is True  # and never exits
    harness.wait(LOCK_TTL + 0.2)
    with harness.peer.lock("refresh", timeout=0.1) as held:
        assert held


def test_a_slow_holder_releasing_late_leaves_the_new_holders_lock_alone(harness: Harness) -> None:
    slow = harness.store.lock("refresh", timeout=0.1)
    assert slow.__enter__() is True
    harness.wait(LOCK_TTL + 0.2)  # the slow holder's lock lapses while it still works
    with harness.peer.lock("refresh", timeout=2) as second:
        slow.__exit__(None, None, None)
        with harness.store.lock("refresh", timeout=0.1) as third:
            assert (second, third) == (True, False)


def _race_to_add(kind: str, where: str, prefix: str, barrier, results) -> None:
    store: LockingStore = (
        DiskStateStore(Path(where)) if kind == "disk" else RedisStateStore(where, prefix=prefix)
    )
    barrier.wait(timeout=60)
    results.put((os.getpid(), store.add("claim", str(os.getpid()), 30)))


def _race(kind: str, where: str, prefix: str = "", racers: int = 4) -> list[tuple[int, bool]]:
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(racers), context.Queue()
    processes = [
        context.Process(target=_race_to_add, args=(kind, where, prefix, barrier, results))
        for _ in range(racers)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(timeout=10)
        assert process.exitcode == 0
    return outcomes


def test_processes_racing_to_add_on_one_state_dir_have_exactly_one_winner(tmp_path: Path) -> None:
    outcomes = _race("disk", str(tmp_path))
    winners = [pid for pid, won in outcomes if won]
    assert len(winners) == 1
    assert DiskStateStore(tmp_path).get("claim") == str(winners[0])


def test_processes_racing_to_add_on_one_redis_have_exactly_one_winner(
    redis_url: str, redis_prefix: str
) -> None:
    outcomes = _race("redis", redis_url, redis_prefix)
    winners = [pid for pid, won in outcomes if won]
    assert len(winners) == 1
    assert RedisStateStore(redis_url, prefix=redis_prefix).get("claim") == str(winners[0])


def _add_in_child(store: DiskStateStore, results) -> None:
    results.put(store.add("child", "yes", 30))


def test_a_disk_store_used_before_a_fork_keeps_working_in_the_child(tmp_path: Path) -> None:
    store = DiskStateStore(tmp_path)
    store.set("parent", "yes", 30)
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    child = context.Process(target=_add_in_child, args=(store, results))
    child.start()
    assert results.get(timeout=30) is True
    child.join(timeout=10)
    assert (store.get("child"), store.get("parent")) == ("yes", "yes")


def test_an_unusable_state_dir_raises_disk_state_unavailable(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    with pytest.raises(DiskStateUnavailable) as caught:
        DiskStateStore(not_a_dir).get("claim")
    assert caught.value.directory == not_a_dir


def test_redis_keys_live_under_the_prefix_with_their_ttl(
    redis_url: str, redis_client: redis.Redis, redis_prefix: str
) -> None:
    RedisStateStore(redis_url, prefix=redis_prefix).set("token", "abc", 30)
    assert redis_client.get(redis_prefix + "token") == "abc"
    assert 0 < redis_client.pttl(redis_prefix + "token") <= 30_000


def test_an_unreachable_redis_raises_redis_unavailable() -> None:
    store = RedisStateStore("redis://127.0.0.1:1/0", socket_timeout=0.5)
    with pytest.raises(RedisUnavailable, match="ConnectionError"):
        store.get("claim")
    with pytest.raises(RedisUnavailable), store.lock("refresh", timeout=0.1):
        pass


def test_the_memory_store_forgets_expired_keys_nobody_reads_again() -> None:
    clock = OffsetClock()
    store = MemoryStateStore(clock)
    for number in range(2000):
        store.add(f"claim-{number}", "x", 1)
        clock.advance(0.01)
    assert len(store._items) < 1200
    assert store.get("claim-1999") == "x"
