"""Dead letters: reply jobs that finally failed, kept until an operator retries or drops them."""

from __future__ import annotations

from dataclasses import dataclass

from huey import Huey

from adapters.queue.serializer import RefusedValue
from adapters.queue.stores import queue_errors
from domain.jobs import ReplyJob


@dataclass(frozen=True)
class DeadLetter:
    """A job given up, with what an operator needs to decide about it."""

    job_id: str
    job: ReplyJob
    attempts: int
    last_error: str
    failed_at: float


class DeadLetters:
    """Dead letters by job id in a huey key-value namespace; raise QueueUnavailable on failure."""

    def __init__(self, kv: Huey) -> None:
        self._kv = kv

    def add(self, letter: DeadLetter) -> None:
        with queue_errors():
            self._kv.put(letter.job_id, letter)

    def all(self) -> list[DeadLetter]:
        """Every dead letter, oldest first."""
        with queue_errors():
            raw = self._kv.storage.result_items()
        found = [letter for letter in map(self._read, raw.values()) if letter is not None]
        return sorted(found, key=lambda letter: (letter.failed_at, letter.job_id))

    def _read(self, data: bytes) -> DeadLetter | None:
        try:
            letter = self._kv.serializer.deserialize(data)
        except RefusedValue:
            return None  # not ours: never shown, never retried
        return letter if isinstance(letter, DeadLetter) else None

    def take(self, job_id: str) -> DeadLetter | None:
        """Remove and return one dead letter; None when there is none by that id."""
        with queue_errors():
            letter = self._kv.get(job_id, peek=False)
        return letter if isinstance(letter, DeadLetter) else None
