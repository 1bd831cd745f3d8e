"""When a reply that failed is tried again, and when it is given up: pure decisions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from domain.errors import DeliveryError, FailureKind

REPLY_DEADLINE = 3600.0
"""Seconds a reply is retried after transient failures before it becomes a dead letter."""


@dataclass(frozen=True)
class RetryLater:
    """Try the job again after `delay` seconds."""

    delay: float
    reason: str


@dataclass(frozen=True)
class GiveUp:
    """Stop trying: the job becomes a dead letter with this reason."""

    reason: str


Decision = RetryLater | GiveUp


class RetryPolicy:
    """Exponential back-off with jitter (about 1, 2, 4 ... s, capped) until the deadline.

    Transient, operator and uncertain failures are retried until `deadline` seconds after the
    job was queued, and never past WeChat's window for the job (domain.quotas: 48 hours after
    a message); permanent ones are not retried at all.
    `jitter()` returns a number in [0, 1); it spreads retries of many jobs apart.
    """

    def __init__(
        self,
        jitter: Callable[[], float],
        deadline: float = REPLY_DEADLINE,
        first_delay: float = 1.0,
        max_delay: float = 60.0,
    ) -> None:
        self._jitter = jitter
        self._deadline = deadline
        self._first_delay = first_delay
        self._max_delay = max_delay

    def after(
        self,
        failure: DeliveryError,
        attempts: int,
        queued_at: float,
        closes_at: float | None,
        now: float,
    ) -> Decision:
        """What to do after the `attempts`-th attempt (1-based) failed with `failure`;
        `closes_at` is when WeChat's window for the job closes (None: never known to)."""
        if failure.kind is FailureKind.PERMANENT:
            return GiveUp(f"refused: {failure.reason}")
        window_left = float("inf") if closes_at is None else closes_at
        left = min(queued_at + self._deadline, window_left) - now
        if left <= 0:
            return GiveUp(f"still failing after {attempts} attempt(s): {failure.reason}")
        return RetryLater(min(self.delay(attempts), left), failure.reason)

    def delay(self, attempts: int) -> float:
        """The pause after the `attempts`-th failure: doubling from first_delay, capped."""
        base = min(self._max_delay, self._first_delay * 2.0 ** min(attempts - 1, 30))
        return base * (1.0 + 0.5 * self._jitter())
