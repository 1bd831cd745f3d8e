"""The askers of a day in the disk statistics: one row per write that met new askers, and in
each process the askers of those rows it has read, so that telling a new asker costs no query."""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable

from domain.stats import ASKER_HEX

ReadRow = Callable[[int], str | None]
"""Reads a day's asker row by its number: its text, None when missing or not kefu's."""

SEPARATOR = " "
"""Between askers in a row: an asker is a hex hash (domain.stats.asker), never holds one."""
_HEX = "0123456789abcdef"
_PARTS = 256
"""Sorted arrays the hashes are kept in, by their top byte: an insert moves 1/256 of them."""


def joined(askers: Iterable[str]) -> str:
    """A row's text: the new askers of one write."""
    return SEPARATOR.join(askers)


class DayAskers:
    """The askers of one day this process knows the store holds: those of rows 0 to `rows`.

    Each write reads first the rows other processes added since this one's last (in the same
    transaction), so `is_new` answers exactly as a row per asker did, with no query per asker.
    Kept only after the write's transaction committed (`remember`): a write that failed must
    not leave askers known here that the store never took.

    The 64-bit hashes sit in sorted arrays of 8 bytes each: the day's bound (ASKERS_KEPT,
    100,000) takes under 1 MiB, where a set of them took 7.4 MiB.
    """

    def __init__(self, key: str) -> None:
        self.key = key
        self.rows = 0
        self._hashes = [array("Q") for _ in range(_PARTS)]
        self._others: set[str] = set()  # askers that are no hash of kefu's (planted, tests)

    def catch_up(self, rows: int, read: ReadRow) -> None:
        """Read rows `self.rows` to `rows` (the day's count of rows, from its record)."""
        for number in range(self.rows, rows):
            text = read(number)
            if text:
                self._add_all(text.split(SEPARATOR))
        self.rows = rows

    def is_new(self, asker: str) -> bool:
        value = _hash(asker)
        if value is None:
            return asker not in self._others
        return not self._slot(value)[2]

    def remember(self, askers: Iterable[str], rows: int) -> None:
        """The askers of this process's committed write, which brought the day to `rows`."""
        self._add_all(askers)
        self.rows = rows

    def _add_all(self, askers: Iterable[str]) -> None:
        for asker in askers:
            value = _hash(asker)
            if value is None:
                self._others.add(asker)
                continue
            part, at, known = self._slot(value)
            if not known:
                part.insert(at, value)

    def _slot(self, value: int) -> tuple[array[int], int, bool]:
        """Where value sits, or would, in its sorted array, and whether it is there."""
        part = self._hashes[value >> 56]
        at = bisect_left(part, value)
        return part, at, at < len(part) and part[at] == value


def _hash(asker: str) -> int | None:
    """The 64-bit hash an asker of kefu's spells in hex; None for any other text."""
    if len(asker) == ASKER_HEX and not asker.strip(_HEX):
        return int(asker, 16)
    return None
