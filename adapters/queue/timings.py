"""How long leases last and how often they are checked: short in tests, safe in production."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class QueueTimings:
    """Seconds. A SIGKILLed sender's job is re-run about `lease` + 2 × `reap_every` later.

    `lease` must exceed the longest gap between heartbeats (every `lease` / 3), not the longest
    send: heartbeats come from a thread of their own. On Redis it must also exceed the clock
    skew between hosts. `grace` is how long a queued or waiting job may sit unstarted before
    the reaper queues it again (a copy that then finds the job done does nothing).
    """

    lease: float = 10.0
    reap_every: float = 2.0
    grace: float = 30.0
    user_wait: float = 5.0  # a job waits this long for the user's previous job, then yields
    requeue_delay: float = 1.0  # ... and comes back after this long
    max_recoveries: int = 5  # a job whose sender died this often is given up

    @property
    def heartbeat_every(self) -> float:
        return self.lease / 3.0
