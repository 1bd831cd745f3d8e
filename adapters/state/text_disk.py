"""A diskcache Disk that keeps text only, in SQLite, and never unpickles what it finds."""

from __future__ import annotations

from typing import Any

import diskcache
from diskcache.core import MODE_RAW

from adapters.state.stored import Unreadable, storable


class NotText(OSError):
    """A stored key kefu did not write. An OSError, because diskcache skips what it cannot read."""


class TextOnlyDisk(diskcache.Disk):  # type: ignore[misc]  # diskcache ships no type hints
    """Keys and values are str, stored in the database row itself: no pickle, no value files.

    diskcache's own Disk unpickles any row whose mode says pickle, so a row planted in the
    state folder would run code in a worker (CVE-2025-69872). This one hands such a row back as
    `Unreadable`, for the store's `StoredValues` to report and read as missing.
    """

    def put(self, key: Any) -> tuple[str, bool]:
        if not isinstance(key, str):
            raise TypeError(f"store keys are text, got {type(key).__name__}")
        return storable(key), True

    def get(self, key: Any, raw: bool) -> str:
        if not raw or not isinstance(key, str):
            raise NotText("a stored key is not text")
        return key

    def store(self, value: Any, read: bool, key: Any = diskcache.UNKNOWN) -> tuple[Any, ...]:
        if read or not isinstance(value, str):
            raise TypeError(f"store values are text, got {type(value).__name__}")
        return 0, MODE_RAW, None, storable(value)

    def fetch(self, mode: int, filename: str | None, value: Any, read: bool) -> object:
        if mode != MODE_RAW or filename is not None or read:
            return Unreadable(f"diskcache mode {mode}{', a file' if filename else ''}")
        return value  # str as kefu wrote it, or bytes planted as a BLOB: StoredValues decides

    def remove(self, file_path: str) -> None:
        """Nothing: kefu writes no value files, and a planted row must not name one to delete."""
