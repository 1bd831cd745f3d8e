"""Plain aligned text tables for a terminal, where CJK characters take two columns."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """header, a rule of dashes, then rows; every column padded to its widest cell."""
    lines = [list(header), *map(list, rows)]
    widths = [max(width(line[column]) for line in lines) for column in range(len(header))]
    lines.insert(1, ["-" * column for column in widths])
    out = []
    for line in lines:
        cells = [cell + " " * (widths[i] - width(cell)) for i, cell in enumerate(line)]
        out.append("  ".join(cells).rstrip() + "\n")
    return "".join(out)


def printable(text: str) -> str:
    """text with every control or other unprintable character written as an escape, so a
    user's text cannot move the cursor or recolour the terminal."""
    return "".join(char if char.isprintable() else ascii(char)[1:-1] for char in text)


def width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)
