"""The lease journal: every unfinished reply job, and until when its current holder vouches."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import Enum

from huey import Huey

from adapters.queue.serializer import RefusedValue
from adapters.queue.stores import queue_errors
from domain.jobs import ReplyJob

log = logging.getLogger(__name__)


class JobState(Enum):
    QUEUED = "queued"  # in huey's queue, waiting for a sender
    RUNNING = "running"  # a sender has it; its heartbeat renews `until`
    WAITING = "waiting"  # in huey's schedule, waiting for its retry


@dataclass(frozen=True)
class JournalEntry:
    """One unfinished job. Past `until`, nobody vouches for it any more: the reaper re-queues it.

    `after` is the id of the job queued before it for the same user: it waits for that one.
    """

    job: ReplyJob
    queued_at: float
    state: JobState
    until: float
    attempts: int = 0
    recoveries: int = 0
    last_error: str = ""
    after: str | None = None

    @property
    def holds_up_the_next(self) -> bool:
        """Queued or running: the user's next job waits. Waiting for a retry, it does not."""
        return self.state is not JobState.WAITING

    def running(self, until: float) -> JournalEntry:
        return replace(self, state=JobState.RUNNING, until=until, attempts=self.attempts + 1)

    def renewed(self, until: float) -> JournalEntry:
        return replace(self, until=until)

    def waiting(self, until: float, error: str) -> JournalEntry:
        return replace(self, state=JobState.WAITING, until=until, last_error=error)

    def requeued(self, until: float) -> JournalEntry:
        return replace(self, state=JobState.QUEUED, until=until)


class LeaseJournal:
    """Journal entries by job id in a huey key-value namespace (SQLite table or Redis hash).

    Every method raises QueueUnavailable when the storage fails.
    """

    def __init__(self, kv: Huey) -> None:
        self._kv = kv

    def write(self, job_id: str, entry: JournalEntry) -> None:
        with queue_errors():
            self._kv.put(job_id, entry)

    def read(self, job_id: str) -> JournalEntry | None:
        with queue_errors():
            entry = self._kv.get(job_id, peek=True)
        return entry if isinstance(entry, JournalEntry) else None

    def remove(self, job_id: str) -> None:
        with queue_errors():
            self._kv.delete(job_id)

    def entries(self) -> dict[str, JournalEntry]:
        """Every unfinished job: a reply queue holds jobs in flight only, so this stays short."""
        with queue_errors():
            raw = self._kv.storage.result_items()
        return _decoded(raw, self._kv.serializer.deserialize)


def _decoded(
    raw: dict[str, bytes], deserialize: Callable[[bytes], object]
) -> dict[str, JournalEntry]:
    entries = {}
    for key, data in raw.items():
        try:
            entry = deserialize(data)
        except RefusedValue as refused:
            log.error("journal entry %s skipped: %s", key, refused)
            continue
        if isinstance(entry, JournalEntry):
            entries[key] = entry
    return entries
