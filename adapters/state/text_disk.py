"""A diskcache Disk that keeps text only, in SQLite, and never unpickles what it finds."""

from __future__ import annotations

import logging
from typing import Any

import diskcache
from diskcache.core import MODE_RAW

log = logging.getLogger(__name__)


class NotText(OSError):
    """A stored value kefu did not write: a pickle, bytes, or a file outside the database.

    An OSError, because diskcache reads a value it cannot fetch as missing.
    """


class TextOnlyDisk(diskcache.Disk):  # type: ignore[misc]  # diskcache ships no type hints
    """Values are str, stored in the database row itself: no pickle, no value files.

    diskcache's own Disk unpickles any row whose mode says pickle, so a row planted in the
    state folder would run code in a worker (CVE-2025-69872). This one refuses such rows.
    """

    def put(self, key: Any) -> tuple[str, bool]:
        if not isinstance(key, str):
            raise TypeError(f"state keys are text, got {type(key).__name__}")
        return key, True

    def get(self, key: Any, raw: bool) -> str:
        if not raw or not isinstance(key, str):
            raise NotText("a stored key is not text")
        return key

    def store(self, value: Any, read: bool, key: Any = diskcache.UNKNOWN) -> tuple[Any, ...]:
        if read or not isinstance(value, str):
            raise TypeError(f"state values are text, got {type(value).__name__}")
        return 0, MODE_RAW, None, value

    def fetch(self, mode: int, filename: str | None, value: Any, read: bool) -> str:
        if mode != MODE_RAW or filename is not None or not isinstance(value, str) or read:
            log.warning(
                "state store: ignoring a stored value that kefu did not write (mode %d)", mode
            )
            raise NotText(f"stored value in mode {mode} is not text")
        return value
