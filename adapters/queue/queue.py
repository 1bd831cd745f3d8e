"""The durable reply queue on huey: submit, run with a lease, retry, dead-letter."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from adapters.logs.push_context import about_push
from adapters.metrics.definitions import REPLIES
from adapters.queue.clock import SteadyClock
from adapters.queue.dead_letters import DeadLetter, DeadLetters
from adapters.queue.journal import JobState, JournalEntry, LeaseJournal
from adapters.queue.ordering import UserLeases
from adapters.queue.stores import QueueStores, queue_errors
from adapters.queue.timings import QueueTimings
from domain.errors import QueueUnavailable
from domain.jobs import ReplyJob
from domain.retry import GiveUp, RetryLater
from domain.sending import Outcome, Unconfirmed

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Backlog:
    """Unfinished jobs (queued, running or waiting for a retry), and the seconds since the
    oldest of them was queued (0 when none)."""

    depth: int
    oldest_age: float


SendJob = Callable[[ReplyJob, int, float], Outcome]
"""One attempt at a job: (job, attempt number, first queued at) -> what happens next."""
TASK_NAME = "kefu.send_replies"
DEFAULT_TIMINGS = QueueTimings()
POLL = 0.05  # seconds between looks at the user's previous job


class HueyReplyQueue:
    """At-least-once reply jobs on huey, made safe against killed senders by a lease journal.

    A job is journalled, then enqueued (huey's task carries only its id). A sender takes the
    user's lease, marks the entry running and renews it by heartbeat while it sends; success
    deletes the entry, a retry moves it to huey's schedule, giving up makes a dead letter. A
    task whose entry is gone does nothing, so a job queued twice is still sent once, and the
    push ledger keeps a re-run from repeating parts WeChat already accepted.
    """

    def __init__(
        self,
        stores: QueueStores,
        send: SendJob,
        leases: UserLeases,
        timings: QueueTimings = DEFAULT_TIMINGS,
        *,
        clock: SteadyClock | None = None,
        sleep: Callable[[float], None] = time.sleep,
        new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
        on_retry: Callable[[ReplyJob], object] = lambda job: None,
    ) -> None:
        """`on_retry(job)` runs when an operator retries a dead letter: it frees the parts that
        may have been sent, which are otherwise never sent again."""
        self.stores = stores
        self.journal = LeaseJournal(stores.journal)
        self.dead_letters = DeadLetters(stores.dead)
        self.timings = timings
        self._send = send
        self._leases = leases
        self.clock = clock or stores.clock
        self._sleep = sleep
        self._new_id = new_id
        self._on_retry = on_retry
        self._task = stores.tasks.task(name=TASK_NAME)(self._run)
        self._running: dict[str, tuple[JournalEntry, str]] = {}
        self._mutex = threading.Lock()

    def submit(self, job: ReplyJob) -> None:
        """Journal the job and enqueue it, in one step. Raises QueueUnavailable."""
        now = self.clock()
        job_id = self._new_id()

        def entry(after: str | None) -> JournalEntry:
            return JournalEntry(job, now, JobState.QUEUED, now + self.timings.grace, after=after)

        self.stores.journal_and_enqueue(job_id, job.to_user, entry, self._task.s(job_id))

    def requeue(self, job_id: str, delay: float = 0.0) -> None:
        """Put a journalled job (back) on the queue, or on the schedule after `delay` seconds."""
        with queue_errors():
            if delay > 0:
                self._task.schedule((job_id,), eta=self.clock.utc(delay))
            else:
                self._task(job_id)

    def retry_dead(self, job_id: str) -> bool:
        """Queue a dead letter again, with a fresh deadline; False when there is no such one."""
        letter = self.dead_letters.take(job_id)
        if letter is None:
            return False
        self._on_retry(letter.job)
        now = self.clock()
        entry = JournalEntry(letter.job, now, JobState.QUEUED, now + self.timings.grace)
        self.journal.write(job_id, entry)
        self.requeue(job_id)
        return True

    def backlog(self) -> Backlog:
        """The unfinished jobs, from one scan of the journal. Raises QueueUnavailable."""
        leases = self.journal.leases().values()
        oldest = min((lease.queued_at for lease in leases), default=None)
        age = 0.0 if oldest is None else max(0.0, self.clock() - oldest)
        return Backlog(len(leases), age)

    @property
    def busy(self) -> bool:
        """Whether this process is running any job now."""
        return bool(self._running)

    def heartbeat(self) -> None:
        """Renew the lease of every job this process is running (called every lease / 3)."""
        with self._mutex:
            until = self.clock() + self.timings.lease
            for job_id, (entry, token) in self._running.items():
                self.journal.write(job_id, entry.renewed(until))
                self._leases.renew(entry.job.to_user, token, self.timings.lease)

    def _run(self, job_id: str) -> None:
        try:
            self._run_job(job_id)
        except QueueUnavailable as failure:
            # The store failed mid-job; the journal entry brings the job back (its lease, or
            # the grace of a queued one). The senders log the outage once, not a traceback a job.
            log.debug("reply job %s interrupted: %s", job_id, failure)

    def _run_job(self, job_id: str) -> None:
        entry = self.journal.read(job_id)
        if entry is None:
            return  # an earlier copy of this task finished the job
        user, token = entry.job.to_user, self._new_id()
        wait = self.timings.user_wait
        if not self._turn_comes(entry, wait) or not self._leases.acquire(
            user, token, self.timings.lease, wait
        ):
            # The user's previous job is still queued or running: come back shortly, without
            # holding a sender. The entry stays as it is (rewriting it could undo a running
            # copy's record); should this scheduled copy be lost, its `until` brings the reaper.
            self.requeue(job_id, self.timings.requeue_delay)
            return
        try:
            current = self.journal.read(job_id)  # again: the lease holder may just have finished
            if current is not None:
                self._attempt(job_id, current, token)
        finally:
            self._leases.release(user, token)

    def _turn_comes(self, entry: JournalEntry, wait: float) -> bool:
        """Whether the user's previous job is out of the way within `wait` seconds: finished,
        given up, or waiting for a retry (a job is held up only while the one before runs)."""
        deadline = self.clock() + wait
        while entry.after is not None:
            before = self.journal.read(entry.after)
            if before is None or not before.holds_up_the_next:
                return True
            if self.clock() >= deadline:
                return False
            self._sleep(POLL)
        return True

    def _attempt(self, job_id: str, entry: JournalEntry, token: str) -> None:
        running = entry.running(self.clock() + self.timings.lease)
        self.journal.write(job_id, running)
        job = running.job
        # Every line logged about the job carries its push's id (and no whole openid).
        with about_push(job.key, job.to_user):
            with self._tracked(job_id, running, token):
                outcome = self._send(job, running.attempts, running.queued_at)
            self._settle(job_id, running, outcome)

    def _settle(self, job_id: str, entry: JournalEntry, outcome: Outcome) -> None:
        now = self.clock()
        if isinstance(outcome, RetryLater):
            REPLIES.labels("retried").inc()
            until = now + outcome.delay + self.timings.grace
            self.journal.write(job_id, entry.waiting(until, outcome.reason))
            self.requeue(job_id, outcome.delay)
            log.info(
                "reply job %s: attempt %d failed, retry in %.1f s: %s",
                job_id,
                entry.attempts,
                outcome.delay,
                outcome.reason,
            )
        elif isinstance(outcome, GiveUp):
            self.bury(job_id, entry, outcome.reason)
        elif isinstance(outcome, Unconfirmed):
            self.bury(job_id, entry, outcome.reason, outcome="uncertain")
        else:
            REPLIES.labels("sent").inc()
            self.journal.remove(job_id)

    def bury(
        self, job_id: str, entry: JournalEntry, reason: str, outcome: str = "dead_lettered"
    ) -> None:
        """Make the job a dead letter and take it out of the journal; `outcome` is how the
        replies metric counts it (an uncertain job is listed, but counted apart)."""
        self.dead_letters.add(DeadLetter(job_id, entry.job, entry.attempts, reason, self.clock()))
        self.journal.remove(job_id)
        REPLIES.labels(outcome).inc()
        log.error(
            "reply job %s is a dead letter after %d attempt(s): %s", job_id, entry.attempts, reason
        )

    @contextmanager
    def _tracked(self, job_id: str, entry: JournalEntry, token: str) -> Iterator[None]:
        with self._mutex:
            self._running[job_id] = (entry, token)
        try:
            yield
        finally:
            # Under the mutex, so no heartbeat writes the entry back after it is settled.
            with self._mutex:
                del self._running[job_id]
