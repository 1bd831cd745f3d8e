"""Readiness of the reply queue, its file on this host and this process's reply senders."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Protocol

from adapters.process import current_pid
from adapters.queue.queue import Backlog
from adapters.queue.queue_file import QueueFile
from adapters.queue.stores import QueueStores
from domain.errors import QueueUnavailable
from entrypoints.service.readiness import Check, Throttled, age

OLDEST_LIMIT = 600.0
"""Seconds the oldest unfinished reply may wait before the queue counts as not keeping up.
Retries of one WeChat hiccup take seconds; ten minutes means replies are not going out."""
STORE_ACTION = "make the queue's store reachable and writable (KEFU_REDIS_URL or KEFU_STATE_DIR)"


class QueueReadings(Protocol):
    @property
    def stores(self) -> QueueStores: ...

    def backlog(self) -> Backlog: ...


class Senders(Protocol):
    @property
    def alive(self) -> int: ...

    @property
    def store_failing(self) -> str | None: ...


class Dispatcher(Protocol):
    @property
    def refusing(self) -> str | None: ...


def probe_key() -> str:
    """One key per process, so that probes of several processes never meet."""
    return f"readiness-probe:{socket.gethostname()}:{current_pid()}"


def write_probe(stores: QueueStores) -> str | None:
    """Why the store takes no write now; None when it took one and gave it back."""
    try:
        stores.probe(probe_key())
    except QueueUnavailable as failure:
        return str(failure)
    return None


def queue_check(
    queue: QueueReadings,
    written: Callable[[], str | None],
    senders: Senders | None = None,
    limit: float = OLDEST_LIMIT,
) -> Check:
    """Took the latest probe write, did not fail the senders lately, and its oldest unfinished
    job is younger than `limit` seconds (by the queue's steady clock)."""
    try:
        failed = written()
        backlog = queue.backlog()
        depth, oldest = backlog.depth, backlog.oldest_age
    except QueueUnavailable as failure:
        failed = str(failure)
    if failed is not None:
        return Check("reply_queue", False, failed, STORE_ACTION)
    failing = senders.store_failing if senders is not None else None
    if failing is not None:
        detail = f"the queue's store fails the senders: {failing}"
        return Check("reply_queue", False, detail, STORE_ACTION)
    waiting = f"{depth} reply job(s) unfinished"
    if depth:
        waiting += f", the oldest for {age(oldest)}"
    if oldest > limit:
        action = (
            "replies are not going out: check that senders run (kefu_senders_running; "
            "KEFU_SENDERS or kefu worker) and WeChat's errors in the log and kefu dead-letters"
        )
        return Check("reply_queue", False, f"{waiting} (more than {age(limit)})", action)
    return Check("reply_queue", True, waiting)


def refusing_check(dispatcher: Dispatcher) -> Check | None:
    """Only while no queue takes this process's jobs: that the replies are lost, and why."""
    if dispatcher.refusing is None:
        return None
    detail = f"no queue takes reply jobs, their replies are lost: {dispatcher.refusing}"
    return Check("reply_queue", False, detail, STORE_ACTION)


def senders_check(senders: Senders, configured: int) -> Check:
    """This process's sender threads, when KEFU_SENDERS asks for some."""
    if configured == 0:
        return Check("senders", True, "KEFU_SENDERS=0: kefu worker processes send the replies")
    alive = senders.alive
    if alive == 0:
        action = "the log says why they stopped; restart kefu"
        return Check("senders", False, f"none of {configured} sender thread(s) runs", action)
    return Check("senders", True, f"{alive} of {configured} sender thread(s) running")


class QueueReadiness:
    """The reply queue's checks, and this process's senders' when it runs any (None: it does
    not, as in `kefu status`). The queue's are probes (writes), so they run at most once every
    few seconds however often /readyz is asked."""

    def __init__(
        self,
        queue: QueueReadings,
        senders: Senders | None,
        configured: int,
        dispatcher: Dispatcher,
        local: QueueReadings | None = None,
        limit: float = OLDEST_LIMIT,
    ) -> None:
        """local: the queue in this host's file (KEFU_STATE_DIR), when not `queue` itself."""
        self._senders, self._configured, self._dispatcher = senders, configured, dispatcher
        self._queue, self._limit, self._local = queue, limit, (local or queue).stores
        self._queue_written = Throttled(lambda: write_probe(queue.stores))
        self._file_written = Throttled(lambda: write_probe(self._local))

    def __call__(self) -> list[Check]:
        queue = queue_check(self._queue, self._queue_written, self._senders, self._limit)
        local = file_check(self._local, self._file_written)
        # The dispatcher learns that a store takes jobs again only from the next push; the
        # probes know as soon as they do, so its refusal stands only while a probe fails.
        refusing = None if queue.ok and local.ok else refusing_check(self._dispatcher)
        checks = [refusing or queue, local]
        if self._senders is not None:
            checks.append(senders_check(self._senders, self._configured))
        return checks


def file_check(stores: QueueStores, written: Callable[[], str | None]) -> Check:
    """The queue's SQLite file under KEFU_STATE_DIR: the one at its path (followed when not),
    taking the latest probe write, and no unreadable one set aside beside it."""
    queue_file = stores.file
    if queue_file is None:
        return Check("queue_file", True, "no queue file on this host")
    try:
        stores.follow_file()
        failed = written()
    except QueueUnavailable as failure:
        failed = str(failure)
    if failed is not None:
        action = f"make {queue_file.path.parent} writable (is the disk full, or read-only?)"
        return Check("queue_file", False, failed, action)
    aside = queue_file.set_aside_report()
    if aside:
        names = ", ".join(aside)
        action = (
            "the jobs that could be read from it were queued again; recover what else it holds"
            f" (sqlite3 .recover), then move it out of {queue_file.path.parent}"
        )
        return Check("queue_file", False, f"unreadable queue file set aside: {names}", action)
    return Check("queue_file", True, _followed(queue_file))


def _followed(queue_file: QueueFile) -> str:
    followed = queue_file.followed
    detail = f"{queue_file.path} writable"
    if followed is None:
        return detail
    return (
        f"{detail}; the file open before was deleted or replaced: {followed.jobs} job(s)"
        " carried from it to this one"
    )
