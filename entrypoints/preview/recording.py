"""What the preview learns from the service's code as it answers: the rule that hit, and the
warnings it logged."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from domain.stats import DayStats, Hit


class HitRecorder:
    """The HitStats the preview's use case reports to: it tells the page which rule hit, and
    keeps the editor's typing out of the statistics of what users ask."""

    def __init__(self) -> None:
        self._last: Hit | None = None

    def record(self, hit: Hit) -> None:
        self._last = hit

    def days(self, count: int) -> tuple[DayStats, ...]:
        return ()

    def take(self) -> Hit | None:
        last, self._last = self._last, None
        return last


class _NoteHandler(logging.Handler):
    def __init__(self, thread: int) -> None:
        super().__init__(logging.WARNING)
        self.thread = thread
        self.notes: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            self.notes.append(record.getMessage())


@contextmanager
def logged_warnings() -> Iterator[list[str]]:
    """The warnings the domain logs in this thread meanwhile (an image that fell back to the
    default, say): what the service would log for this message."""
    handler = _NoteHandler(threading.get_ident())
    domain = logging.getLogger("domain")
    domain.addHandler(handler)
    try:
        yield handler.notes
    finally:
        domain.removeHandler(handler)
