"""Reply sender threads on huey's queue, with its scheduler, the heartbeat and the reaper."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import TypeVar

from adapters.queue.queue import HueyReplyQueue
from adapters.queue.reaper import Reaper

log = logging.getLogger(__name__)
T = TypeVar("T")

# An idle sender polls SQLite between these bounds, backing off (Redis blocks on BRPOP instead).
MIN_POLL, MAX_POLL = 0.05, 0.5
SCHEDULE_EVERY = 1.0  # due retries move from huey's schedule to its queue this often


class SenderPool:
    """`senders` threads taking jobs from huey's queue in this process, started and stopped as one.

    Not huey's Consumer: that one installs signal handlers, which belong to gunicorn (or
    `kefu worker`) here. The loops use huey's own dequeue, execute and read_schedule. A failing
    store is logged once per outage, not once per poll. `stop(timeout)` stops taking jobs and
    waits for running ones; a job still running when the process dies is re-run from its lease.
    """

    def __init__(self, queue: HueyReplyQueue, reaper: Reaper, senders: int) -> None:
        self._queue = queue
        self._reaper = reaper
        self._senders = senders
        self._stop = threading.Event()
        self._workers: list[threading.Thread] = []
        self._helpers: list[threading.Thread] = []
        self._outage = _Outage()

    @property
    def running(self) -> bool:
        return any(thread.is_alive() for thread in self._workers)

    @property
    def store_failing(self) -> str | None:
        """Why the queue's store fails these senders, while it does or while it flaps."""
        return self._outage.failing()

    @property
    def alive(self) -> int:
        """Sender threads running now (for the metrics)."""
        return sum(thread.is_alive() for thread in self._workers)

    def start(self) -> None:
        if self._senders <= 0 or self._workers:
            return
        for number in range(self._senders):
            name = f"kefu-sender-{number + 1}"
            self._workers.append(self._thread(name, self._sender(), background=True))
        timings = self._queue.timings
        self._helpers = [
            self._thread("kefu-scheduler", self._every(SCHEDULE_EVERY, self._schedule)),
            self._thread("kefu-heartbeat", self._every(timings.heartbeat_every, self._renew)),
            self._thread("kefu-reaper", self._every(timings.reap_every, self._reap)),
        ]
        log.info("%d reply sender(s) started", self._senders)

    def stop(self, timeout: float) -> bool:
        """Take no more jobs; wait up to `timeout` s for running ones. Whether all finished."""
        if not self._workers or self._stop.is_set():
            return not self.running
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._workers:
            thread.join(max(0.0, deadline - time.monotonic()))
        finished = not self.running
        if finished:
            log.info("reply senders stopped")
        else:
            log.warning("reply senders busy after %g s; their jobs re-run from the lease", timeout)
        return finished

    def _sender(self) -> Callable[[], None]:
        huey, pause = self._queue.stores.tasks, [MIN_POLL]

        def step() -> None:
            # huey answers None for an empty queue and for a read that timed out alike.
            task = self._guarded(huey.dequeue, proves=lambda task: task is not None)
            if task is None:
                if not huey.storage.blocking:  # SQLite: back off while the queue is empty
                    self._stop.wait(pause[0])
                    pause[0] = min(MAX_POLL, pause[0] * 1.5)
                return
            pause[0] = MIN_POLL
            try:
                huey.execute(task)
            except Exception:
                log.exception("a reply job failed unexpectedly; its lease brings it back")

        return step

    def _schedule(self) -> None:
        huey = self._queue.stores.tasks
        for task in self._guarded(huey.read_schedule) or ():
            self._guarded(partial(huey.enqueue, task))

    def _renew(self) -> None:
        # With nothing running a heartbeat touches no store: it proves nothing about an outage.
        if self._queue.busy:
            self._guarded(self._queue.heartbeat)

    def _reap(self) -> None:
        self._guarded(self._reaper.reap)

    def _guarded(
        self, action: Callable[[], T], proves: Callable[[T], bool] = lambda result: True
    ) -> T | None:
        """action(), or None when the store failed (logged once per outage, then a pause).
        An outage ends only with a result that `proves` came from the store."""
        try:
            result = action()
        except Exception as failure:
            self._outage.failed(failure)
            self._stop.wait(MAX_POLL)
            return None
        if proves(result):
            self._outage.recovered()
        return result

    def _thread(
        self, name: str, step: Callable[[], object], *, background: bool = False
    ) -> threading.Thread:
        def run() -> None:
            if background:
                _yield_cpu_to_requests()
            while not self._stop.is_set():
                step()

        # Daemon: a process that must exit is never held up by a sender stuck on WeChat.
        thread = threading.Thread(target=run, name=name, daemon=True)
        thread.start()
        return thread

    def _every(self, seconds: float, action: Callable[[], object]) -> Callable[[], None]:
        def step() -> None:
            if not self._stop.wait(seconds):
                action()

        return step


SENDER_NICENESS = 10


def _yield_cpu_to_requests() -> None:
    """Lower this thread's CPU priority (Linux nices threads one by one): a sender matching
    similar questions is CPU-bound and must not slow the worker's threads answering WeChat."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), SENDER_NICENESS)
    except (AttributeError, OSError) as refused:  # another system, or not allowed: run as is
        log.info("reply senders keep the worker's CPU priority: %s", refused)


FLAP_WINDOW = 60.0
"""Seconds over which outages of the queue's store are counted: two or more within them is a
store that flaps (readiness fails; only the first is logged)."""


class _Outage:
    """Logs the first failure of an outage and its end, nothing in between; outages that start
    within FLAP_WINDOW of an earlier one are not logged (the store flaps), but counted for
    readiness."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._down = False
        self._told = False
        self._starts: deque[float] = deque()
        self._why = ""
        self._mutex = threading.Lock()

    def failed(self, failure: Exception) -> None:
        now = self._clock()
        with self._mutex:
            self._why = str(failure)
            if self._down:
                return
            self._down = True
            self._forget_before(now - FLAP_WINDOW)
            self._told = not self._starts
            self._starts.append(now)
            told = self._told
        if told:
            log.warning("reply queue store failing, senders keep trying: %s", failure)

    def recovered(self) -> None:
        with self._mutex:
            told, self._down, self._told = self._down and self._told, False, False
        if told:
            log.info("reply queue store available again")

    def failing(self) -> str | None:
        """Why the store fails these senders, while it does or while it flaps."""
        with self._mutex:
            self._forget_before(self._clock() - FLAP_WINDOW)
            if self._down:
                return self._why
            if len(self._starts) > 1:
                return (
                    f"{len(self._starts)} outages within {FLAP_WINDOW:g} s, the latest: {self._why}"
                )
            return None

    def _forget_before(self, moment: float) -> None:
        while self._starts and self._starts[0] < moment:
            self._starts.popleft()
