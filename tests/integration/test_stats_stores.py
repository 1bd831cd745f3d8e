"""Hit statistics stores (a diskcache folder, Redis): per-day counts that processes add up."""

from __future__ import annotations

import io
import logging
import multiprocessing
import sqlite3
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import pytest
from diskcache.core import DBNAME

from adapters.stats.background import BackgroundHitStats
from adapters.stats.disk import DiskHitStats
from adapters.stats.redis import RedisHitStats
from domain.errors import KefuError
from domain.stats import TOP_UNMATCHED, DayStats, Hit, asker
from entrypoints.cli.stats import show_stats
from entrypoints.service.container import Container
from entrypoints.service.settings import Settings
from tests.fakes import FakeClock

NOON = 1_764_676_800.0  # 2025-12-02 12:00 UTC: that date in any zone within ±11 h


@pytest.fixture(params=["disk", "redis"])
def make_store(request, tmp_path: Path):
    def make(namespace: str = "wxA", clock: FakeClock | None = None, **options):
        clock = clock or FakeClock(NOON)
        if request.param == "disk":
            return DiskHitStats(tmp_path / "stats", namespace, clock=clock, **options)
        prefix, url = request.getfixturevalue("redis_prefix"), request.getfixturevalue("redis_url")
        return RedisHitStats(namespace, url, prefix=prefix, clock=clock, **options)

    return make


def test_hits_and_unmatched_texts_are_counted_per_day_most_frequent_first(make_store):
    clock = FakeClock(NOON)
    store = make_store(clock=clock)
    for hit in [Hit("1"), Hit("default", "你好"), Hit("1"), Hit("default", "价格"), Hit("1")]:
        store.record(hit)
    store.record(Hit("default", "你好"))
    clock.advance(24 * 3600)
    store.record(Hit("re:下载"))
    today, yesterday, before = store.days(3)
    assert today == DayStats(today.day, (("re:下载", 1),), ())
    assert yesterday.hits == (("1", 3), ("default", 3))
    assert yesterday.unmatched == (("你好", 2), ("价格", 1))
    assert before == DayStats(before.day, (), ())
    assert (today.day, yesterday.day) == ("2025-12-03", "2025-12-02")


def test_similar_question_hits_are_counted_apart_from_exact_hits(make_store):
    store = make_store()
    for hit in [Hit("换手机号"), Hit("换手机号", similar=True), Hit("换手机号", similar=True)]:
        store.record(hit)
    (today,) = store.days(1)
    assert today.hits == (("换手机号", 1),)
    assert today.similar_hits == (("换手机号", 2),)


def test_only_the_top_100_unmatched_texts_are_reported(make_store):
    store = make_store()
    for n in range(TOP_UNMATCHED + 20):
        store.record(Hit(None, f"text {n:03d}"))
    store.record(Hit(None, "text 119"))
    (today,) = store.days(1)
    assert len(today.unmatched) == TOP_UNMATCHED
    assert today.unmatched[0] == ("text 119", 2)
    assert today.unmatched[1] == ("text 000", 1)


def asked(user: str, text: str) -> Hit:
    return Hit("default", text, asker(user, text))


def test_one_users_many_pushes_of_a_text_count_once_a_day(make_store):
    clock = FakeClock(NOON)
    store = make_store(clock=clock)
    store.record_all([asked("o_flooder", "买粉丝") for _ in range(50)])
    for user in ("o_a", "o_b"):
        store.record(asked(user, "价格"))
    store.record(asked("o_flooder", "价格"))
    (today,) = store.days(1)
    assert today.unmatched == (("价格", 3), ("买粉丝", 1))
    assert today.hits == (("default", 53),)  # which rule answered still counts every push
    clock.advance(24 * 3600)
    store.record(asked("o_flooder", "买粉丝"))  # a new day: asked again, counted again
    assert store.days(1)[0].unmatched == (("买粉丝", 1),)


def test_a_users_text_counts_once_whichever_process_counts_it(make_store):
    first, second = make_store(), make_store()  # two workers' stores on one folder or Redis
    first.record_all([asked("o_a", "价格"), asked("o_b", "价格")])
    second.record_all([asked("o_a", "价格"), asked("o_c", "价格")])
    first.record_all([asked("o_c", "价格"), asked("o_b", "价格"), asked("o_d", "价格")])
    second.record(asked("o_d", "价格"))
    assert first.days(1)[0].unmatched == second.days(1)[0].unmatched == (("价格", 4),)


def test_a_write_that_failed_leaves_its_askers_to_be_counted(tmp_path: Path):
    store = DiskHitStats(tmp_path / "stats", "wxA", clock=FakeClock(NOON))
    store.record(asked("o_a", "你好"))
    # The disk fills between o_b's row of askers and the day's record, inside the store's own
    # transaction: a trigger in the database fails every write but an askers row.
    outside = sqlite3.connect(tmp_path / "stats" / DBNAME)
    for change in ("INSERT", "UPDATE"):
        outside.execute(
            f"CREATE TRIGGER full_disk_{change} BEFORE {change} ON Cache"
            " WHEN NEW.key NOT LIKE '%:askers:%'"
            " BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
        )
    outside.commit()
    with pytest.raises(KefuError):
        store.record(asked("o_b", "你好"))
    outside.executescript("DROP TRIGGER full_disk_INSERT; DROP TRIGGER full_disk_UPDATE;")
    outside.close()
    store.record(asked("o_b", "你好"))
    assert store.days(1)[0].unmatched == (("你好", 2),)


def test_a_day_remembers_a_bounded_number_of_askers(make_store):
    store = make_store(askers_kept=3)
    store.record_all([asked(f"o_{n}", "你好") for n in range(5)])
    store.record(asked("o_0", "你好"))
    store.record(Hit(None, "没有提问者"))  # a text without an asker counts every time
    (today,) = store.days(1)
    assert today.unmatched == (("你好", 3), ("没有提问者", 1))


def test_lone_surrogates_and_control_characters_read_back_without_losing_the_batch(make_store):
    store = make_store()
    forged = ["bad\ud800text", "pair\ud83d\ude00", "bell\x07\x1b[2J\x00end", "plain"]
    store.record_all([Hit("re:\udfff", text) for text in forged])
    (today,) = store.days(1)
    assert today.hits == (("re:\ufffd", 4),)
    assert sorted(today.unmatched) == [
        ("bad\ufffdtext", 1),
        ("bell\x07\x1b[2J\x00end", 1),
        ("pair😀", 1),
        ("plain", 1),
    ]


def test_kefu_rules_stats_prints_stored_control_characters_escaped(tmp_path: Path):
    store = DiskHitStats(tmp_path / "state" / "stats", "wxA")
    store.record_all([Hit(None, "clear\x1b[2J\x07"), Hit(None, "bad\ud800")])
    env = {"KEFU_TOKEN": "t", "KEFU_APPID": "wxA", "KEFU_STATE_DIR": str(tmp_path / "state")}
    out, err = io.StringIO(), io.StringIO()
    assert show_stats(1, {**env, "KEFU_RULES_FILE": str(tmp_path / "rules.json")}, out, err) == 0
    assert "clear\\x1b[2J\\x07" in out.getvalue() and "bad\ufffd" in out.getvalue()
    assert "\x1b" not in out.getvalue() and err.getvalue() == ""


def test_two_mini_programs_sharing_a_store_keep_their_own_counts(make_store):
    first, second = make_store("wxA"), make_store("wxB")
    first.record(Hit("1"))
    assert second.days(1)[0].hits == ()
    assert first.days(1)[0].hits == (("1", 1),)


def test_redis_counts_expire_after_eight_days_and_askers_after_two(
    redis_url, redis_client, redis_prefix
):
    store = RedisHitStats("wxA", redis_url, prefix=redis_prefix)
    store.record(asked("o_1", "x"))
    keys = sorted(redis_client.scan_iter(match=redis_prefix + "*"))
    assert [key.rsplit(":", 1)[1] for key in keys] == ["askers", "hits", "unmatched"]
    ttls = [redis_client.ttl(key) for key in keys]
    assert 86400 < ttls[0] <= 2 * 86400  # askers matter only while their day is counted
    assert all(7 * 86400 < ttl <= 8 * 86400 for ttl in ttls[1:])


def _add_hits(directory: str, count: int) -> None:
    store = DiskHitStats(Path(directory), "wxA")
    for _ in range(count):
        store.record(Hit("1", None))


def test_processes_adding_to_one_folder_lose_no_count(tmp_path: Path):
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_add_hits, args=(str(tmp_path / "stats"), 50)) for _ in range(3)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert [worker.exitcode for worker in workers] == [0, 0, 0]
    assert DiskHitStats(tmp_path / "stats", "wxA").days(1)[0].hits == (("1", 150),)


class _SlowStore:
    def __init__(self, fail: bool = False) -> None:
        self.release = threading.Event()
        self.stored: list[Hit] = []
        self.fail = fail

    def record(self, hit: Hit) -> None:
        self.release.wait(10)
        if self.fail:
            raise KefuError("store down")
        self.stored.append(hit)

    def record_all(self, hits: Sequence[Hit]) -> None:
        for hit in hits:
            self.record(hit)

    def days(self, count: int) -> tuple[DayStats, ...]:
        return ()


def test_recording_never_waits_for_a_slow_store():
    store = _SlowStore()
    stats = BackgroundHitStats(store)
    started = time.monotonic()
    for n in range(100):
        stats.record(Hit(str(n)))
    assert time.monotonic() - started < 1.0  # the store holds each write for up to 10 s
    assert store.stored == []
    store.release.set()
    stats.flush()
    assert [hit.key for hit in store.stored] == [str(n) for n in range(100)]


def test_a_failing_store_is_logged_once_and_never_raises(caplog):
    store = _SlowStore(fail=True)
    store.release.set()
    stats = BackgroundHitStats(store)
    with caplog.at_level(logging.WARNING):
        for n in range(5):
            stats.record(Hit(str(n)))
        stats.flush()
    assert [r.getMessage() for r in caplog.records if "statistics" in r.getMessage()] == [
        "hit statistics not stored (logged once): store down"
    ]


def test_a_full_queue_drops_hits_instead_of_blocking(caplog):
    store = _SlowStore()
    stats = BackgroundHitStats(store, capacity=2)
    with caplog.at_level(logging.WARNING):
        for n in range(10):
            stats.record(Hit(str(n)))
    store.release.set()
    stats.flush()
    assert 2 <= len(store.stored) <= 3
    assert any("queue full" in r.getMessage() for r in caplog.records)


def test_closing_stores_what_is_queued_first():
    store = _SlowStore()
    stats = BackgroundHitStats(store)
    for n in range(3):
        stats.record(Hit(str(n)))
    threading.Timer(0.2, store.release.set).start()
    stats.close(timeout=5)
    assert [hit.key for hit in store.stored] == ["0", "1", "2"]


def test_closing_waits_no_longer_than_its_timeout():
    store = _SlowStore()
    stats = BackgroundHitStats(store)
    stats.record(Hit("1"))
    started = time.monotonic()
    stats.close(timeout=0.3)
    assert time.monotonic() - started < 2
    store.release.set()


@pytest.mark.parametrize("shared", ["folder", "redis"])
def test_the_container_counts_where_the_state_lives_scoped_by_appid(
    shared, tmp_path: Path, redis_url: str, redis_client
):
    appid = f"wx{uuid.uuid4().hex[:16]}"
    shared_url = redis_url if shared == "redis" else None
    settings = Settings(token="t", appid=appid, state_dir=tmp_path, redis_url=shared_url)
    container = Container(settings=settings)
    try:
        counting = container.hit_stats()
        counting.record(Hit("default", "你好"))
        container.shutdown_resources()  # stores what is queued
        (today,) = container.stats_store().days(1)
        assert (today.hits, today.unmatched) == ((("default", 1),), (("你好", 1),))
        keys = list(redis_client.scan_iter(match=f"kefu:{appid}:stats:*"))
        assert len(keys) == (2 if shared == "redis" else 0)
        assert (tmp_path / "stats").exists() == (shared == "folder")
    finally:
        stale = list(redis_client.scan_iter(match=f"kefu:{appid}:*"))
        if stale:
            redis_client.delete(*stale)
