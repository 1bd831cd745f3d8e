"""The lease journal: every unfinished reply job, and until when its current holder vouches."""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum

from huey import Huey
from huey.constants import EmptyData

from adapters.queue.serializer import RefusedValue
from adapters.queue.stores import queue_errors
from adapters.state.stored import StoredValues
from domain.jobs import ReplyJob

KIND = "journal entry"


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

    @property
    def lease(self) -> Lease:
        return Lease(self.queued_at, self.until)


@dataclass(frozen=True)
class Lease:
    """What a scan of the journal needs of an entry: when its job was queued, and until when
    its holder vouches for it."""

    queued_at: float
    until: float


class LeaseJournal:
    """Journal entries by job id in a huey key-value namespace (SQLite table or Redis hash).

    Every method raises QueueUnavailable when the storage fails. An entry kefu did not write
    reads as missing (logged once): a job waiting on it goes ahead.
    """

    def __init__(self, kv: Huey) -> None:
        self._kv = kv
        self._values = StoredValues("reply queue")
        self._scanned: dict[str, tuple[bytes, Lease | None]] = {}  # as last scanned

    def write(self, job_id: str, entry: JournalEntry) -> None:
        with queue_errors():
            self._kv.put(job_id, entry)

    def read(self, job_id: str) -> JournalEntry | None:
        with queue_errors():
            raw = self._kv.get_raw(job_id, peek=True)
        return None if raw is EmptyData else self._entry(raw)

    def remove(self, job_id: str) -> None:
        with queue_errors():
            self._kv.delete(job_id)

    def leases(self) -> dict[str, Lease]:
        """Every unfinished job's lease. Each stored value is decoded once: a scan decodes
        only the entries written since the last one (the same bytes make the same lease).

        Every process scans the whole journal (its reaper every 2 s, its gauges every 5 s, and
        each readiness check), and a queue behind (WeChat slow, a burst of pushes) holds
        thousands of jobs: decoding each entry at every scan took a quarter of a worker's time
        under load (py-spy), and more the further the queue fell behind. Only the lease is
        kept between scans, not the job: whole entries held 1 KB more per job, so a scan of a
        backlog of 8,000 grew the heap by 19 MiB where leases grow it by 12.
        """
        with queue_errors():
            raw = self._kv.storage.result_items()
        known, scanned = self._scanned, {}
        for key, data in raw.items():
            seen = known.get(key)
            scanned[key] = (
                seen if seen is not None and seen[0] == data else (data, self._lease(data))
            )
        self._scanned = scanned  # whole, in one step: threads that scan at once each get theirs
        return {key: lease for key, (_, lease) in scanned.items() if lease is not None}

    def _lease(self, data: bytes) -> Lease | None:
        entry = self._entry(data)
        return None if entry is None else entry.lease

    def _entry(self, data: bytes) -> JournalEntry | None:
        try:
            entry = self._kv.serializer.deserialize(data)
        except RefusedValue as refused:
            self._values.missing(KIND, str(refused))
            return None
        if not isinstance(entry, JournalEntry):
            self._values.missing(KIND, f"a {type(entry).__name__}")
            return None
        return entry
