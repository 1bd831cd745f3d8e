"""The chaos soak's faults: a seeded, bounded plan, and a thread that carries it out."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from adapters.state.guard import PROBE_EVERY
from entrypoints.sandbox.state import SEND_PATH
from tests.e2e.queue_rig import UPLOAD_PATH, QueueRig
from tests.e2e.servers import workers_of
from tests.redis_server import OwnRedis

ERRCODE_BUSY = "errcode -1"
ERRCODE_LIMIT = "errcode 45009"
SEND_STALL = "send stall"
UPLOAD_STALL = "upload stall"
GUNICORN_KILL = "gunicorn worker SIGKILL"
REDIS_RESTART = "Redis restart"
WORKER_RESTART = "kefu worker restart"
LIGHT = (ERRCODE_BUSY, ERRCODE_LIMIT, SEND_STALL, UPLOAD_STALL)
HEAVY = (GUNICORN_KILL, REDIS_RESTART, WORKER_RESTART)
CAUSES = LIGHT + HEAVY
HEAVY_EVERY = 12.0
"""Seconds between heavy faults (a kill or a restart): each heals well within that."""


@dataclass(frozen=True)
class Planned:
    at: float
    cause: str
    amount: float
    """Seconds of a stall or of Redis's downtime; how many calls an errcode answers."""


@dataclass(frozen=True)
class Injected:
    cause: str
    amount: float
    started: float
    ended: float
    """Monotonic times: the fault was in force (or healing) in between."""


def plan(duration: float, seed: int) -> list[Planned]:
    """Light faults every 1.5–3.5 s; a heavy one every HEAVY_EVERY s, each kind at least once
    whenever the soak has room for three."""
    rng = random.Random(seed)
    planned = []
    at = 1.0
    while at < duration - 3:
        cause = rng.choice(LIGHT)
        if cause in (SEND_STALL, UPLOAD_STALL):
            amount = round(rng.uniform(1, 6), 1)
        else:
            amount = float(rng.randint(1, 3 if cause == ERRCODE_BUSY else 2))
        planned.append(Planned(at, cause, amount))
        at += rng.uniform(1.5, 3.5)
    slots = [6 + HEAVY_EVERY * n for n in range(int((duration - 16) // HEAVY_EVERY) + 1)]
    kinds = list(HEAVY)
    rng.shuffle(kinds)
    for n, slot in enumerate(slots):
        cause = kinds[n] if n < len(kinds) else rng.choice(HEAVY)
        downtime = round(rng.uniform(1, 5), 1) if cause == REDIS_RESTART else 0.0
        planned.append(Planned(slot + rng.uniform(-2, 2), cause, downtime))
    return sorted(planned, key=lambda fault: fault.at)


class Injector:
    """Carries out a plan against a rig, its gunicorn master, its Redis and its `kefu worker`."""

    def __init__(
        self,
        rig: QueueRig,
        master: int,
        redis: OwnRedis,
        worker: subprocess.Popen[bytes],
        seed: int,
    ) -> None:
        self.rig, self.master, self.redis, self.worker = rig, master, redis, worker
        self.rng = random.Random(seed + 1)
        self.injected: list[Injected] = []
        self.workers_started = 1
        self._lock = threading.Lock()

    def run(self, planned: list[Planned], start: float) -> None:
        for fault in planned:
            time.sleep(max(0.0, start + fault.at - time.monotonic()))
            began = time.monotonic()
            heal = self._apply(fault)
            self.injected.append(
                Injected(fault.cause, fault.amount, began, time.monotonic() + heal)
            )

    def worker_pid(self) -> int:
        with self._lock:
            return self.worker.pid

    def _apply(self, fault: Planned) -> float:
        """Inject one fault; the seconds after now it may still take effect."""
        actions: dict[str, Callable[[Planned], float]] = {
            ERRCODE_BUSY: lambda f: self._errcode(-1, f),
            ERRCODE_LIMIT: lambda f: self._errcode(45009, f),
            SEND_STALL: lambda f: self._stall(SEND_PATH, f),
            UPLOAD_STALL: lambda f: self._stall(UPLOAD_PATH, f),
            GUNICORN_KILL: self._kill_gunicorn_worker,
            REDIS_RESTART: self._restart_redis,
            WORKER_RESTART: self._restart_worker,
        }
        return actions[fault.cause](fault)

    def _errcode(self, errcode: int, fault: Planned) -> float:
        self.rig.fault(SEND_PATH, errcode=errcode, times=int(fault.amount))
        return 2.0

    def _stall(self, path: str, fault: Planned) -> float:
        self.rig.fault(path, stall=fault.amount)
        return fault.amount + 1

    def _kill_gunicorn_worker(self, fault: Planned) -> float:
        workers = sorted(workers_of(self.master))
        if workers:
            os.kill(self.rng.choice(workers), signal.SIGKILL)
        return 2.0

    def _restart_redis(self, fault: Planned) -> float:
        self.redis.kill()
        time.sleep(fault.amount)
        self.redis.start()  # the same port and, with its append-only file, the same data
        # Each process finds the store back at its guard's next probe, up to PROBE_EVERY s
        # later; until then its sends wait for a retry (a reply the store cannot record).
        return PROBE_EVERY + 1.0

    def _restart_worker(self, fault: Planned) -> float:
        self.worker.send_signal(signal.SIGTERM)
        self.worker.wait(timeout=45)  # running sends finish first (kefu worker's grace: 30 s)
        self.workers_started += 1
        with self._lock:
            self.worker = self.rig.worker(f"worker{self.workers_started}")
        return 1.0
