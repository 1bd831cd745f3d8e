"""The reaper: re-queues jobs nobody vouches for any more (their sender died, or was lost)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

from adapters.queue.journal import JobState, JournalEntry
from adapters.queue.queue import HueyReplyQueue
from domain.errors import KefuError
from domain.ports import StateStore

log = logging.getLogger(__name__)


class Reaper:
    """One pass every `reap_every` seconds, in every sender process of every host.

    An entry is recovered only when it was already expired, unchanged, at the previous pass:
    a task dequeued a moment ago is marked running within milliseconds, and must not be run
    twice for that gap. Among hosts, one wins each recovery by a claim in the shared state.
    A job whose sender died `max_recoveries` times is given up (it may be what kills it).
    """

    def __init__(
        self,
        queue: HueyReplyQueue,
        claims: StateStore,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._queue = queue
        self._claims = claims
        self._clock = clock or queue.clock
        self._expired_before: dict[str, float] = {}

    def reap(self) -> int:
        """One pass; how many jobs it re-queued or gave up. Raises QueueUnavailable."""
        now = self._clock()
        leases = self._queue.journal.leases()
        expired = {job_id: lease.until for job_id, lease in leases.items() if lease.until <= now}
        recovered = 0
        for job_id, until in expired.items():
            if self._expired_before.get(job_id) != until:
                continue
            entry = self._queue.journal.read(job_id)  # as it is now, not as scanned
            if entry is not None and entry.until == until and self._claim(job_id, until):
                self._recover(job_id, entry, now)
                recovered += 1
        self._expired_before = expired
        self._queue.stores.forget_finished()
        return recovered

    def _claim(self, job_id: str, until: float) -> bool:
        try:
            return self._claims.add(f"recover:{job_id}:{until!r}", "1", self._queue.timings.grace)
        except KefuError as failure:
            # Without the claim two hosts may both re-queue it: the copy finds it done.
            log.warning("cannot claim a recovery, re-queueing anyway: %s", failure)
            return True

    def _recover(self, job_id: str, entry: JournalEntry, now: float) -> None:
        timings = self._queue.timings
        if entry.state is JobState.RUNNING:
            entry = replace(entry, recoveries=entry.recoveries + 1)
            if entry.recoveries > timings.max_recoveries:
                reason = f"its sender died {entry.recoveries} times while sending it"
                self._queue.bury(job_id, entry, reason)
                return
        log.warning(
            "reply job %s was %s and nobody vouches for it any more: re-queued",
            job_id,
            entry.state.value,
        )
        self._queue.journal.write(job_id, entry.requeued(now + timings.grace))
        self._queue.requeue(job_id)
