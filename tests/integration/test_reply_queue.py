"""The reply queue on real SQLite and Redis: jobs run once, retry, dead-letter and recover."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from huey import MemoryHuey
from huey.storage import RedisStorage

from adapters.queue.clock import SteadyClock
from adapters.queue.journal import JobState, JournalEntry, Lease, LeaseJournal
from adapters.queue.ordering import UserLeases
from adapters.queue.queue import Backlog, HueyReplyQueue
from adapters.queue.reaper import Reaper
from adapters.queue.senders import SenderPool
from adapters.queue.stores import QueueStores, redis_stores, sqlite_stores
from adapters.queue.timings import QueueTimings
from adapters.state.memory import MemoryStateStore
from domain.delivery import DeliverReplies
from domain.errors import DeliveryError, FailureKind
from domain.jobs import ReplyJob
from domain.ledger import PushLedger
from domain.replies import TextReply
from domain.retry import RetryPolicy
from domain.sending import Delivered, SendQueuedReplies
from tests.fakes import FakeClock, FakeMediaIds, FakeMessenger
from tests.journal_entries import journal_entries

FAST = QueueTimings(lease=1.0, reap_every=0.2, grace=2.0, user_wait=0.2, requeue_delay=1.0)


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def job(n: int = 1, user: str = "o_user", texts: tuple[str, ...] = ("hi",)) -> ReplyJob:
    return ReplyJob(f"msg:{n}", user, tuple(TextReply(t) for t in texts), (), int(time.time()))


@dataclass
class Rig:
    queue: HueyReplyQueue
    messenger: FakeMessenger
    state: MemoryStateStore
    pool: SenderPool

    @property
    def texts(self) -> list[str]:
        return [m.content for _, m in self.messenger.sent if isinstance(m, TextReply)]


def build(stores: QueueStores, failures: tuple[DeliveryError, ...] = (), senders: int = 2) -> Rig:
    state, messenger = MemoryStateStore(), FakeMessenger(failures=list(failures))
    ledger = PushLedger(state)
    policy = RetryPolicy(random.random, deadline=30.0, first_delay=0.1, max_delay=0.5)
    deliver = DeliverReplies(FakeMediaIds(), messenger, ledger, time.time)
    send = SendQueuedReplies(deliver, policy, time.time)
    queue = HueyReplyQueue(stores, send, UserLeases(state), FAST)
    pool = SenderPool(queue, Reaper(queue, state), senders)
    return Rig(queue, messenger, state, pool)


@pytest.fixture(params=["sqlite", "redis"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[QueueStores]:
    if request.param == "sqlite":
        yield sqlite_stores(tmp_path)
        return
    # The redis_prefix fixture removes every key under the prefix afterwards.
    url = request.getfixturevalue("redis_url")
    yield redis_stores(url, request.getfixturevalue("redis_prefix"))


@pytest.fixture
def rig_factory(stores: QueueStores) -> Iterator[Callable[..., Rig]]:
    made: list[Rig] = []

    def make(**kwargs: object) -> Rig:
        made.append(build(stores, **kwargs))  # type: ignore[arg-type]
        return made[-1]

    yield make
    for rig in made:
        rig.pool.stop(5.0)


def test_a_submitted_job_is_sent_once_and_leaves_nothing_behind(rig_factory):
    rig = rig_factory()
    rig.pool.start()
    rig.queue.submit(job(texts=("a", "b")))
    wait_for(lambda: rig.texts == ["a", "b"] and rig.queue.backlog().depth == 0)


def test_transient_failures_are_retried_until_one_send_succeeds(rig_factory):
    busy = DeliveryError("-1 busy", kind=FailureKind.TRANSIENT, code=-1)
    rig = rig_factory(failures=(busy, busy))
    rig.pool.start()
    rig.queue.submit(job())
    wait_for(lambda: rig.texts == ["hi"] and rig.queue.backlog().depth == 0)
    assert rig.messenger.attempts == 3


def test_a_permanent_failure_becomes_a_dead_letter_that_retry_sends(rig_factory):
    refused = DeliveryError("45015 out of window", kind=FailureKind.PERMANENT, code=45015)
    rig = rig_factory(failures=(refused,))
    rig.pool.start()
    rig.queue.submit(job())
    wait_for(lambda: len(rig.queue.dead_letters.all()) == 1 and rig.queue.backlog().depth == 0)
    (letter,) = rig.queue.dead_letters.all()
    assert (letter.attempts, rig.messenger.attempts, rig.queue.backlog().depth) == (1, 1, 0)
    assert "45015" in letter.last_error
    assert rig.queue.retry_dead(letter.job_id) is True
    wait_for(lambda: rig.texts == ["hi"] and rig.queue.backlog().depth == 0)
    assert rig.queue.dead_letters.all() == []


def test_a_job_whose_sender_died_is_run_again_from_its_lease(rig_factory):
    rig = rig_factory()
    # A sender that took the job and died: the entry says running, and nobody renews it.
    rig.queue.submit(job())
    ((job_id, entry),) = journal_entries(rig.queue.journal).items()
    rig.queue.stores.tasks.flush()
    rig.queue.journal.write(job_id, entry.running(time.time() + FAST.lease))
    rig.pool.start()
    wait_for(lambda: rig.texts == ["hi"] and rig.queue.backlog().depth == 0)


def test_a_job_journalled_but_never_enqueued_is_still_sent(rig_factory):
    rig = rig_factory()
    rig.queue.submit(job())
    rig.queue.stores.tasks.flush()  # as if the producer died between journal and queue
    rig.pool.start()
    wait_for(lambda: rig.texts == ["hi"] and rig.queue.backlog().depth == 0, timeout=15)


def test_two_copies_of_one_task_send_once(rig_factory):
    rig = rig_factory(senders=4)
    rig.queue.submit(job(texts=("a", "b", "c")))
    ((job_id, _),) = journal_entries(rig.queue.journal).items()
    for _ in range(3):
        rig.queue.requeue(job_id)
    rig.pool.start()
    wait_for(lambda: rig.queue.backlog().depth == 0)
    assert rig.texts == ["a", "b", "c"]


def test_depth_and_oldest_age_describe_unfinished_jobs(rig_factory):
    rig = rig_factory()
    assert rig.queue.backlog() == Backlog(0, 0.0)
    rig.queue.submit(job(1))
    rig.queue.submit(job(2))
    backlog = rig.queue.backlog()
    assert backlog.depth == 2
    assert 0.0 <= backlog.oldest_age < 5.0
    ((_, entry), _) = journal_entries(rig.queue.journal).items()
    assert entry.state is JobState.QUEUED


def test_a_scan_decodes_again_only_the_entries_written_since_the_last(stores: QueueStores):
    # Every process scans the journal every few seconds, however far the queue fell behind.
    journal, now = LeaseJournal(stores.journal), time.time()
    for name, n in (("a", 1), ("b", 2)):
        journal.write(name, JournalEntry(job(n), now, JobState.QUEUED, now + 30))
    before = journal.leases()
    assert before == {"a": Lease(now, now + 30), "b": Lease(now, now + 30)}
    entry = journal.read("b")
    assert entry is not None
    journal.write("b", entry.running(now + 60))
    after = journal.leases()
    assert after["a"] is before["a"]  # the same bytes: the lease decoded last time
    assert after["b"] == Lease(now, now + 60)
    journal.remove("a")
    assert set(journal.leases()) == {"b"}


class Runs:
    """A send that records the jobs it was given and reports them delivered."""

    def __init__(self) -> None:
        self.jobs: list[ReplyJob] = []

    def __call__(self, job: ReplyJob, attempts: int, queued_at: float) -> Delivered:
        self.jobs.append(job)
        return Delivered(1)


def memory_queue(clock: FakeClock, runs: Runs) -> tuple[HueyReplyQueue, Reaper, MemoryStateStore]:
    # huey's immediate mode: every enqueue runs the task at once, in this thread.
    huey = [MemoryHuey(name, immediate=True) for name in ("tasks", "journal", "dead")]
    state = MemoryStateStore(clock)
    steady = SteadyClock(wall=clock, monotonic=clock)
    queue = HueyReplyQueue(QueueStores(*huey), runs, UserLeases(state), FAST, clock=steady)
    return queue, Reaper(queue, state, clock), state


def lost_running_job(queue: HueyReplyQueue, clock: FakeClock) -> str:
    """A job whose sender died: journalled as running, in no queue, its lease not renewed."""
    entry = JournalEntry(job(), clock(), JobState.QUEUED, clock() + FAST.grace)
    queue.journal.write("job-1", entry.running(clock() + FAST.lease))
    return "job-1"


def test_the_reaper_recovers_only_an_entry_expired_at_two_passes_in_a_row():
    clock, runs = FakeClock(1000.0), Runs()
    queue, reaper, _ = memory_queue(clock, runs)
    lost_running_job(queue, clock)
    clock.advance(FAST.lease + 0.1)
    assert reaper.reap() == 0 and runs.jobs == []  # first seen expired: maybe just dequeued
    clock.advance(FAST.reap_every)
    assert reaper.reap() == 1
    assert len(runs.jobs) == 1 and queue.backlog().depth == 0


def test_a_recovery_claimed_by_another_host_is_left_to_it():
    clock, runs = FakeClock(1000.0), Runs()
    queue, reaper, state = memory_queue(clock, runs)
    lost_running_job(queue, clock)
    (entry,) = journal_entries(queue.journal).values()
    state.add(f"recover:job-1:{entry.until!r}", "1", 60.0)  # another host's reaper won
    clock.advance(FAST.lease + 0.1)
    reaper.reap()
    clock.advance(FAST.reap_every)
    assert reaper.reap() == 0 and runs.jobs == []


def test_a_job_whose_sender_keeps_dying_becomes_a_dead_letter():
    clock, runs = FakeClock(1000.0), Runs()
    queue, reaper, _ = memory_queue(clock, runs)
    lost_running_job(queue, clock)
    (entry,) = journal_entries(queue.journal).values()
    dying = replace(entry, recoveries=FAST.max_recoveries)
    queue.journal.write("job-1", dying)
    clock.advance(FAST.lease + 0.1)
    reaper.reap()
    clock.advance(FAST.reap_every)
    reaper.reap()
    (letter,) = queue.dead_letters.all()
    assert "died" in letter.last_error and runs.jobs == [] and queue.backlog().depth == 0


def test_redis_keys_live_under_the_prefix_an_acl_can_name(redis_url, redis_client, redis_prefix):
    queue = build(redis_stores(redis_url, redis_prefix)).queue
    queue.submit(job())
    keys = list(redis_client.scan_iter("*"))
    ours = [key for key in keys if redis_prefix in key]
    assert ours and all(key.startswith(redis_prefix) for key in ours)
    assert not [key for key in keys if key.startswith("huey.") and redis_prefix[:-1] in key]


def test_a_value_planted_in_the_queue_is_refused_not_unpickled(stores: QueueStores):
    class Explodes:
        def __reduce__(self):
            return (print, ("planted",))

    rig = build(stores)
    stores.journal.put("planted", Explodes())  # pickled as huey would, naming builtins.print
    stores.dead.put("planted", Explodes())
    rig.queue.submit(job())
    assert list(journal_entries(rig.queue.journal)) != ["planted"]
    assert len(journal_entries(rig.queue.journal)) == 1
    assert rig.queue.dead_letters.all() == []
    assert rig.queue.journal.read("planted") is None  # read as missing, never raised


def test_bytes_planted_under_a_users_latest_job_cost_no_reply(rig_factory, caplog):
    rig = rig_factory()
    journal, planted = rig.queue.stores.journal.storage, b"\xff\xfe not a job id"
    if isinstance(journal, RedisStorage):
        journal.conn.set(f"{journal.name}:latest:o_user", planted)
    else:
        journal.sql(
            "insert into kv (queue, key, value) values (?, ?, ?)",
            (f"{journal.name}:latest", "o_user", planted),
            commit=True,
        )
    rig.pool.start()
    with caplog.at_level(logging.WARNING):
        rig.queue.submit(job(1, texts=("first",)))  # the plant reads as no job before it
        rig.queue.submit(job(2, texts=("second",)))
        wait_for(lambda: rig.texts == ["first", "second"] and rig.queue.backlog().depth == 0)
    lines = [r.getMessage() for r in caplog.records if "latest job of a user" in r.getMessage()]
    assert len(lines) == 1 and "kefu did not write" in lines[0]


def test_a_users_later_job_picked_up_first_still_waits_for_the_earlier_one(rig_factory):
    rig = rig_factory(senders=4)
    rig.queue.submit(job(1, texts=("first",)))
    rig.queue.submit(job(2, texts=("second",)))
    ids = sorted(journal_entries(rig.queue.journal).items(), key=lambda item: item[1].queued_at)
    (first, _), (second, _) = ids
    rig.queue.stores.tasks.flush()
    rig.queue.requeue(second)  # the later job reaches a sender first
    rig.queue.requeue(first)
    rig.pool.start()
    wait_for(lambda: rig.queue.backlog().depth == 0)
    assert rig.texts == ["first", "second"]


def test_a_users_later_job_follows_the_latest_one_queued_for_that_user(stores: QueueStores):
    queue = build(stores).queue
    for n, user in enumerate(("o_a", "o_b", "o_a", "o_a"), start=1):
        queue.submit(job(n, user=user))
    entries = sorted(journal_entries(queue.journal).items(), key=lambda item: item[1].job.key)
    (a1, first), (_, second), (a3, third), (_, fourth) = entries
    assert (first.after, second.after, third.after, fourth.after) == (None, None, a1, a3)


def test_on_sqlite_a_users_latest_job_is_forgotten_once_it_is_done(tmp_path: Path):
    stores = sqlite_stores(tmp_path)
    rig = build(stores)
    for n in range(3):
        rig.queue.submit(job(n, user=f"o_user{n}"))
    stores.forget_finished()
    assert latest_jobs_kept(stores) == 3  # unfinished: the users' next jobs wait for them
    rig.pool.start()
    wait_for(lambda: rig.queue.backlog().depth == 0)
    stores.forget_finished()
    assert latest_jobs_kept(stores) == 0


def latest_jobs_kept(stores: QueueStores) -> int:
    rows = stores.journal.storage.sql(
        "select count(*) from kv where queue like ?", ("%:latest",), results=True
    )
    return int(rows[0][0])
