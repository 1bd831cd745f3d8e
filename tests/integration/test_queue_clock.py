"""Retries fall due by the monotonic clock: a wall clock set back or forward changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.queue.clock import SteadyClock
from adapters.queue.journal import JobState, JournalEntry
from adapters.queue.ordering import UserLeases
from adapters.queue.queue import HueyReplyQueue
from adapters.queue.stores import sqlite_stores
from adapters.state.memory import MemoryStateStore
from domain.jobs import ReplyJob
from domain.replies import TextReply
from domain.sending import Delivered
from tests.fakes import FakeClock

START = 1_800_000_000.0


class Clocks:
    def __init__(self) -> None:
        self.wall, self.monotonic = FakeClock(START), FakeClock(50.0)

    def advance(self, seconds: float) -> None:
        self.wall.advance(seconds)
        self.monotonic.advance(seconds)


@pytest.fixture
def clocks() -> Clocks:
    return Clocks()


@pytest.fixture
def queue(tmp_path: Path, clocks: Clocks) -> HueyReplyQueue:
    steady = SteadyClock(wall=clocks.wall, monotonic=clocks.monotonic)
    stores = sqlite_stores(tmp_path, clock=steady)
    return HueyReplyQueue(stores, lambda job, n, at: Delivered(1), UserLeases(MemoryStateStore()))


def waiting_job(queue: HueyReplyQueue, delay: float) -> None:
    job = ReplyJob("msg:1", "o_user", (TextReply("hi"),))
    now = queue.clock()
    queue.journal.write("job-1", JournalEntry(job, now, JobState.WAITING, now + delay + 120))
    queue.requeue("job-1", delay)


def due(queue: HueyReplyQueue):
    """What a sender's scheduler finds due now (huey queues a task with an eta first, and its
    sender moves it to the schedule while it is not due)."""
    huey = queue.stores.tasks
    while (task := huey.dequeue()) is not None:
        huey.execute(task)
    return huey.read_schedule()


@pytest.mark.parametrize("jump", [-3600.0, 3600.0], ids=["set back an hour", "set forward"])
def test_a_retry_is_due_after_its_delay_whatever_the_wall_clock_does(queue, clocks, jump):
    waiting_job(queue, delay=2.0)
    clocks.wall.advance(jump)
    clocks.advance(1.0)
    assert due(queue) == []  # not fired early by a jump forward
    clocks.advance(1.5)
    assert len(due(queue)) == 1  # nor held for an hour by a jump back


def test_the_oldest_jobs_age_counts_on_after_the_clock_is_set_back(queue, clocks):
    waiting_job(queue, delay=2.0)
    clocks.advance(30.0)
    clocks.wall.advance(-3600.0)
    assert queue.backlog().oldest_age == pytest.approx(30.0)
