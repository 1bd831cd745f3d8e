"""What every store writes and how it reads it back: text kefu could have written, or nothing."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Unreadable:
    """A stored value that is not text kefu wrote (a pickle, a file outside the database)."""

    why: str


def storable(text: str) -> str:
    """text as every store can keep it: valid Unicode, whatever a push or a document held.

    Python strings may hold surrogates, which neither UTF-8 (Redis) nor SQLite takes. A pair
    becomes the character it encodes and a lone one U+FFFD, so a reader gets back what a person
    would see. Text without surrogates, nearly all of it, is returned as it is.
    """
    if text.isascii():
        return text
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


class StoredValues:
    """How one store reads back its values: a value kefu did not write reads as missing.

    Each kind of value (a state value, a day's counts, an unmatched text) found unreadable is
    logged once, naming the store and the kind, never the value: it may be anything.
    """

    def __init__(self, store: str) -> None:
        self._store = store
        self._reported: set[str] = set()
        self._mutex = threading.Lock()

    def text(self, raw: object, kind: str) -> str | None:
        """raw (str, or UTF-8 bytes as Redis and SQLite give them) as text; else None."""
        if isinstance(raw, str):
            return raw
        if isinstance(raw, bytes | bytearray | memoryview):
            try:
                return bytes(raw).decode("utf-8")
            except UnicodeDecodeError:
                self.missing(kind, "not UTF-8")
        elif isinstance(raw, Unreadable):
            self.missing(kind, raw.why)
        elif raw is not None:
            self.missing(kind, f"a {type(raw).__name__}")
        return None

    def count(self, raw: object, kind: str) -> int | None:
        """raw as a count of zero or more (Redis gives b"3" or 3.0); else None."""
        if isinstance(raw, float) and raw.is_integer() and raw >= 0:
            return int(raw)
        if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0:
            return raw
        text = raw if isinstance(raw, str) else self.text(raw, kind)
        if text is not None and text.isascii() and text.isdigit():
            return int(text)
        if text is not None:
            self.missing(kind, "not a count")
        return None

    def missing(self, kind: str, why: str) -> None:
        """Log that a value of this kind was not kefu's (the first time only)."""
        with self._mutex:
            first = kind not in self._reported
            self._reported.add(kind)
        if first:
            log.warning(
                "%s: ignoring a stored %s that kefu did not write (%s); further ones are"
                " ignored silently",
                self._store,
                kind,
                why,
            )
