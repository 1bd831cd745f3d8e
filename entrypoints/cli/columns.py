"""Plain aligned text tables for a terminal, where CJK characters take two columns and every
cell is shown escaped: a stored text cannot move the cursor, clear the screen or forge a row."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from adapters.logs.escaping import escape_controls


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """header, a rule of dashes, then rows; columns aligned, the last one ragged."""
    lines = [list(header), *([escape_controls(cell) for cell in row] for row in rows)]
    last = len(header) - 1
    widths = [max(width(line[column]) for line in lines) for column in range(last)]
    lines.insert(1, [*("-" * column for column in widths), "-" * width(header[last])])
    out = []
    for line in lines:
        cells = [cell + " " * (widths[i] - width(cell)) for i, cell in enumerate(line[:last])]
        out.append("  ".join([*cells, line[last]]).rstrip() + "\n")
    return "".join(out)


def width(text: str) -> int:
    """Columns text takes in a terminal."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)
