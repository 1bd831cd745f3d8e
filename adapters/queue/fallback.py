"""The shared reply queue with this host's own behind it, for while the shared one is down."""

from __future__ import annotations

import logging
import threading

from adapters.queue.queue import HueyReplyQueue
from adapters.queue.stores import queue_errors
from domain.errors import QueueUnavailable
from domain.jobs import ReplyJob

log = logging.getLogger(__name__)


class HeldQueue:
    """Jobs go to the shared queue (Redis); while it cannot take them, to this host's embedded
    one (SQLite under KEFU_STATE_DIR), from which `move_held` moves them to the shared queue,
    oldest first, as soon as it takes jobs again. Nothing is sent from this host's queue: the
    shared one sends them, with its retries, per-user order and the ledger's dedup.

    While jobs are held, new ones are held too (behind them), so a user's replies keep their
    order. A job moved twice (a crash between moving and forgetting it) is delivered once: the
    ledger knows which parts WeChat took.
    """

    def __init__(self, shared: HueyReplyQueue, local: HueyReplyQueue) -> None:
        self._shared = shared
        self._local = local
        self._holding = False
        self._mutex = threading.Lock()

    def submit(self, job: ReplyJob) -> None:
        """Raises QueueUnavailable only when neither queue can take the job."""
        if not self._holding:
            try:
                self._shared.submit(job)
                return
            except QueueUnavailable as failure:
                log.warning(
                    "shared reply queue unavailable; replies wait on this host: %s", failure
                )
        with self._mutex:
            self._local.submit(job)
            self._holding = True

    def move_held(self) -> int:
        """Move every held job to the shared queue, oldest first; how many moved. Stops at the
        first the shared queue refuses (the rest stay held). Raises QueueUnavailable when this
        host's queue cannot be read."""
        moved = self._move(self._held())
        with self._mutex:
            if not self._held():
                with queue_errors():  # their tasks only pointed at entries that are gone
                    self._local.stores.tasks.storage.flush_queue()
                if self._holding:
                    log.info("shared reply queue available again; held replies moved to it")
                self._holding = False
        return moved

    def _held(self) -> list[str]:
        """The held jobs' ids, oldest first (their leases: each job is read as it moves)."""
        leases = self._local.journal.leases()
        return sorted(leases, key=lambda job_id: (leases[job_id].queued_at, job_id))

    def _move(self, held: list[str]) -> int:
        moved = 0
        for job_id in held:
            entry = self._local.journal.read(job_id)
            if entry is None:
                continue  # moved meanwhile by another thread of this process
            try:
                self._shared.submit(entry.job)
            except QueueUnavailable:
                break
            self._local.journal.remove(job_id)
            moved += 1
        return moved


MOVE_EVERY = 1.0
"""Seconds between looks at this host's held jobs (one SQLite read when there are none)."""


class HeldMover:
    """A thread in every process that may hold jobs, moving them on once a second."""

    def __init__(self, queue: HeldQueue, every: float = MOVE_EVERY) -> None:
        self._queue = queue
        self._every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kefu-held-mover", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(self._every + 1.0)

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            try:
                self._queue.move_held()
            except QueueUnavailable as failure:
                log.debug("held replies not moved yet: %s", failure)
