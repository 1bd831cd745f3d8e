"""What has become of each push: claimed for handling, and which reply parts WeChat accepted."""

from __future__ import annotations

import logging
from enum import Enum

from domain.jobs import ReplyJob
from domain.ports import StateStore

log = logging.getLogger(__name__)

# NOTE: WeChat retries within seconds; an hour outlives its retries and the replay window.
CLAIM_TTL = 3600.0


class PushLedger:
    """Claims pushes so WeChat's retries send nothing twice, on any worker that shares the store.

    The store is expected to carry on when its backend fails (the container guards it): a claim
    is then granted, so a push is handled rather than lost.
    """

    def __init__(self, store: StateStore, ttl: float = CLAIM_TTL) -> None:
        self._store = store
        self._ttl = ttl

    def claim(self, key: str) -> bool:
        """True when this call owns the push; False when another copy has it or had it."""
        return self._store.add(f"claim:{key}", "1", self._ttl)

    def part(self, key: str, part: str) -> PartState | None:
        """What became of one reply part of a push; None when it was never tried."""
        value = self._store.get(f"sent:{key}:{part}")
        return None if value is None else _STATES.get(value, PartState.UNCERTAIN)

    def seen(self, key: str) -> bool:
        """Whether the push was claimed already (here or by another worker or host)."""
        return self._store.get(f"claim:{key}") is not None

    def delivered(self, key: str, part: str) -> bool:
        return self.part(key, part) is PartState.DELIVERED

    def mark_delivered(self, key: str, part: str) -> None:
        self._mark(key, part, PartState.DELIVERED)

    def mark_in_flight(self, key: str, part: str) -> None:
        """Record, before the call, that a part is being sent: should the sender die before the
        answer comes, whoever runs the job next knows WeChat may have taken it."""
        self._mark(key, part, PartState.IN_FLIGHT)

    def mark_uncertain(self, key: str, part: str) -> None:
        """Record a part that may have reached WeChat, so that it is not sent again either."""
        self._mark(key, part, PartState.UNCERTAIN)

    def forget(self, key: str, part: str) -> None:
        """WeChat surely did not take the part (it said no): it may be sent again."""
        self._store.delete(f"sent:{key}:{part}")

    def forget_uncertain(self, job: ReplyJob) -> int:
        """Free every part of the job that may have been sent, so that it is sent again: only
        on an operator's word (`kefu dead-letters retry`). How many parts were freed."""
        freed = 0
        for slot in range(len(job.replies)):
            for sub in range(max(1, len(job.fallback))):  # a fallback may fill a slot's parts
                state = self.part(job.key, f"{slot}.{sub}")
                if state is not None and state.maybe_sent:
                    self.forget(job.key, f"{slot}.{sub}")
                    freed += 1
        return freed

    def _mark(self, key: str, part: str, state: PartState) -> None:
        self._store.set(f"sent:{key}:{part}", state.value, self._ttl)


class PartState(Enum):
    """A reply part's fate. IN_FLIGHT and UNCERTAIN parts may have reached the user."""

    DELIVERED = "1"
    IN_FLIGHT = "!"
    UNCERTAIN = "?"

    @property
    def maybe_sent(self) -> bool:
        return self is not PartState.DELIVERED


_STATES = {state.value: state for state in PartState}
