"""The reply queue's readiness on real SQLite: probe writes, a refusing dispatcher, a store
that flaps, an overdue job by the steady clock."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from adapters.queue.senders import FLAP_WINDOW, _Outage
from adapters.queue.stores import redis_stores, sqlite_stores
from entrypoints.service.queue_readiness import QueueReadiness
from entrypoints.service.readiness import PROBE_EVERY, Throttled
from tests.fakes import FakeClock
from tests.integration.test_queue_file import job, queue_on


class Dispatcher:
    refusing: str | None = None


class Senders:
    def __init__(self) -> None:
        self.outage = _Outage(FakeClock())
        self.alive = 2

    @property
    def store_failing(self) -> str | None:
        return self.outage.failing()


def checks(ready: QueueReadiness) -> dict[str, tuple[bool, str]]:
    return {check.name: (check.ok, check.detail) for check in ready()}


def test_a_probe_runs_at_most_once_per_interval_however_often_it_is_asked() -> None:
    clock, calls = FakeClock(), []

    def write() -> int:
        calls.append(1)
        return len(calls)

    probe = Throttled(write, clock=clock)
    assert [probe(), probe(), probe()] == [1, 1, 1]
    clock.advance(PROBE_EVERY)
    assert probe() == 2


def test_the_queue_is_not_ready_while_no_queue_takes_jobs(tmp_path: Path) -> None:
    dispatcher = Dispatcher()
    down = queue_on(redis_stores("redis://127.0.0.1:9/0", "kefu-test:"))  # nothing listens
    local = queue_on(sqlite_stores(tmp_path))
    ready = QueueReadiness(down, None, 0, dispatcher, local=local)
    dispatcher.refusing = "reply queue unavailable: OperationalError: database or disk is full"
    assert checks(ready)["reply_queue"] == (
        False,
        "no queue takes reply jobs, their replies are lost: reply queue unavailable: "
        "OperationalError: database or disk is full",
    )


def test_a_refusal_ends_once_the_probes_write_again_without_waiting_for_a_push(
    tmp_path: Path,
) -> None:
    dispatcher = Dispatcher()
    ready = QueueReadiness(queue_on(sqlite_stores(tmp_path)), None, 0, dispatcher)
    dispatcher.refusing = "reply queue unavailable: OperationalError: database or disk is full"
    assert checks(ready)["reply_queue"] == (True, "0 reply job(s) unfinished")


def test_a_store_that_flaps_fails_readiness_for_a_minute_and_is_logged_once(
    tmp_path: Path, caplog
) -> None:
    caplog.set_level(logging.INFO)
    senders = Senders()
    ready = QueueReadiness(queue_on(sqlite_stores(tmp_path)), senders, 2, Dispatcher())
    clock: FakeClock = senders.outage._clock  # type: ignore[assignment]
    senders.outage.failed(OSError("disk I/O error"))
    senders.outage.recovered()
    assert checks(ready)["reply_queue"][0] is True  # one outage that ended: ready
    for _ in range(30):
        clock.advance(1.5)
        senders.outage.failed(OSError("disk I/O error"))
        senders.outage.recovered()
    ok, detail = checks(ready)["reply_queue"]
    assert ok is False
    assert detail.startswith("the queue's store fails the senders: ")
    assert f"outages within {FLAP_WINDOW:g} s, the latest: disk I/O error" in detail
    failing = [r for r in caplog.records if "reply queue store failing" in r.getMessage()]
    again = [r for r in caplog.records if "available again" in r.getMessage()]
    assert (len(failing), len(again)) == (1, 1)
    clock.advance(FLAP_WINDOW)
    assert senders.store_failing is None


def test_an_overdue_job_fails_readiness_by_the_queues_steady_clock(tmp_path: Path) -> None:
    queue = queue_on(sqlite_stores(tmp_path))
    queue.submit(job(1))
    ready = QueueReadiness(queue, None, 0, Dispatcher(), limit=1.0)
    time.sleep(1.1)  # NOTE: the age itself is what is tested
    ok, detail = checks(ready)["reply_queue"]
    assert ok is False and detail == "1 reply job(s) unfinished, the oldest for 1 s (more than 1 s)"
