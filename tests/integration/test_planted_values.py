"""Values kefu did not write, planted in its statistics (SQLite and Redis), read as missing."""

from __future__ import annotations

import io
import logging
import sqlite3
import uuid
from pathlib import Path

import diskcache
import pytest
import redis

from adapters.stats.disk import DiskHitStats
from adapters.stats.redis import RedisHitStats
from domain.stats import Hit, asker
from entrypoints.cli.stats import show_stats
from tests.fakes import FakeClock
from tests.planted import Planted, plant_in_every_row

NOON = 1_764_676_800.0  # 2025-12-02 12:00 UTC
TODAY = "2025-12-02"


def asked(user: str, text: str) -> Hit:
    return Hit("default", text, asker(user, text))


def warnings_about(caplog: pytest.LogCaptureFixture, kind: str) -> list[str]:
    lines = [record.getMessage() for record in caplog.records]
    return [line for line in lines if f"ignoring a stored {kind} that kefu did not write" in line]


def test_a_pickle_planted_in_the_disk_statistics_never_runs(tmp_path: Path, caplog):
    marker = tmp_path / "pickle-ran"
    with diskcache.Cache(str(tmp_path / "stats")) as planter:  # diskcache's own pickling Disk
        planter.set(f"wxA:{TODAY}", Planted(marker))
    store = DiskHitStats(tmp_path / "stats", "wxA", clock=FakeClock(NOON))
    with caplog.at_level(logging.WARNING):
        assert store.days(1)[0].hits == ()
        store.record(asked("o_1", "你好"))  # today's record is written afresh over the plant
        (today,) = store.days(1)
    assert (today.hits, today.unmatched) == ((("default", 1),), (("你好", 1),))
    assert not marker.exists()
    assert len(warnings_about(caplog, "day of counts")) == 1


def test_every_row_of_the_disk_statistics_planted_reads_as_no_counts(tmp_path: Path):
    store = DiskHitStats(tmp_path / "stats", "wxA", clock=FakeClock(NOON))
    store.record_all([asked("o_1", "你好"), asked("o_2", "价格"), Hit("1")])
    store.close()
    marker = tmp_path / "pickle-ran"
    assert plant_in_every_row(tmp_path / "stats" / "cache.db", marker) == 2  # day, its askers
    reopened = DiskHitStats(tmp_path / "stats", "wxA", clock=FakeClock(NOON))
    assert reopened.days(7)[0].hits == ()
    # The day reads as a new one, its askers with it: o_1 is met for the first time again.
    for user in ("o_1", "o_1", "o_3"):
        reopened.record(asked(user, "你好"))
    assert reopened.days(1)[0].unmatched == (("你好", 2),)
    assert not marker.exists()


def test_a_planted_row_of_askers_reads_as_none_and_the_day_goes_on(tmp_path: Path, caplog):
    store = DiskHitStats(tmp_path / "stats", "wxA", clock=FakeClock(NOON))
    store.record_all([asked("o_1", "你好"), asked("o_2", "你好")])
    store.close()
    with sqlite3.connect(tmp_path / "stats" / "cache.db") as db:
        row = f"wxA:{TODAY}:askers:0"
        db.execute("update Cache set value = ? where key = ?", (b"\xff planted", row))
    db.close()
    reopened = DiskHitStats(tmp_path / "stats", "wxA", clock=FakeClock(NOON))
    with caplog.at_level(logging.WARNING):
        reopened.record_all([asked("o_1", "你好"), asked("o_3", "你好"), asked("o_3", "你好")])
    # o_1's row is not kefu's: read as no askers, so o_1 counts again; o_3 once.
    assert reopened.days(1)[0].unmatched == (("你好", 4),)
    assert len(warnings_about(caplog, "row of askers")) == 1


@pytest.mark.parametrize(
    "planted",
    [
        b"\xff\xfe not UTF-8",
        '{"hits": {"1": "many", "2": -3, "3": 2.5, "4": true, "5": 4}, "unmatched": [1]}',
        "[1, 2, 3]",
    ],
)
def test_a_planted_day_record_keeps_only_what_kefu_could_have_written(tmp_path: Path, planted):
    store = DiskHitStats(tmp_path / "stats", "wxA", clock=FakeClock(NOON))
    store.record(Hit("0"))
    store.close()
    with sqlite3.connect(tmp_path / "stats" / "cache.db") as db:
        db.execute("update Cache set value = ?", (planted,))
    db.close()
    (today,) = DiskHitStats(tmp_path / "stats", "wxA", clock=FakeClock(NOON)).days(1)
    assert today.hits == ((("5", 4),) if "hits" in str(planted) else ())
    assert today.unmatched == ()


@pytest.fixture
def raw_redis(redis_url: str):
    client = redis.Redis.from_url(redis_url)  # bytes, as a planter would write them
    yield client
    client.close()


def test_members_planted_in_the_redis_statistics_are_left_out_and_logged_once(
    redis_url: str, redis_prefix: str, raw_redis: redis.Redis, caplog
):
    store = RedisHitStats("wxA", redis_url, prefix=redis_prefix, clock=FakeClock(NOON))
    store.record_all([asked("o_1", "你好"), Hit("1")])
    base = f"{redis_prefix}wxA:stats:{TODAY}"
    raw_redis.hset(f"{base}:hits", mapping={b"\xff\xfe": 5, "planted": b"many", "neg": -2})
    raw_redis.zadd(f"{base}:unmatched", {b"\xc3\x28 bad": 9, b"half": 1.5})
    with caplog.at_level(logging.WARNING):
        for _ in range(2):
            (today,) = store.days(1)
            assert today.hits == (("1", 1), ("default", 1))
            assert today.unmatched == (("你好", 1),)
        store.record(asked("o_2", "你好"))  # counting goes on beside the planted members
    assert store.days(1)[0].unmatched == (("你好", 2),)
    assert len(warnings_about(caplog, "hit count")) == 1
    assert len(warnings_about(caplog, "unmatched text")) == 1


def test_keys_of_another_type_read_as_no_counts_and_the_rest_is_still_counted(
    redis_url: str, redis_prefix: str, raw_redis: redis.Redis
):
    store = RedisHitStats("wxA", redis_url, prefix=redis_prefix, clock=FakeClock(NOON))
    base = f"{redis_prefix}wxA:stats:{TODAY}"
    raw_redis.set(f"{base}:hits", b"\x80planted")
    store.record_all([Hit("1"), asked("o_1", "你好")])
    (today,) = store.days(1)
    assert (today.hits, today.unmatched) == ((), (("你好", 1),))


def test_kefu_rules_stats_prints_the_counts_around_planted_members(
    redis_url: str, raw_redis: redis.Redis, tmp_path: Path
):
    appid = f"wx{uuid.uuid4().hex[:16]}"
    env = {
        "KEFU_TOKEN": "t",
        "KEFU_APPID": appid,
        "KEFU_RULES_FILE": str(tmp_path / "rules.json"),
        "KEFU_STATE_DIR": str(tmp_path / "state"),
        "KEFU_REDIS_URL": redis_url,
    }
    store = RedisHitStats(appid, redis_url)
    try:
        store.record(asked("o_1", "你好"))
        (day,) = store.days(1)
        base = f"kefu:{appid}:stats:{day.day}"
        raw_redis.hset(f"{base}:hits", mapping={b"\xff": 1, "x": b"\xfe"})
        raw_redis.zadd(f"{base}:unmatched", {b"\xff\xfe\xfd": 3})
        out, err = io.StringIO(), io.StringIO()
        assert show_stats(1, env, out, err) == 0
        assert (out.getvalue().splitlines()[3], err.getvalue()) == ("default  1", "")
        assert "你好" in out.getvalue()
    finally:
        stale = list(raw_redis.scan_iter(match=f"kefu:{appid}:*"))
        if stale:
            raw_redis.delete(*stale)
        store.close()
