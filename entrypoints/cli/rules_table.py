"""The `kefu rules check` table: one row per key, aligned as a terminal shows CJK text."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from adapters.logs.escaping import escape_controls
from domain.replies import (
    ImageReply,
    LinkReply,
    MiniProgramPageReply,
    Reply,
    TextReply,
    TransferReply,
)
from domain.rules_document import ParsedRules, RuleProblem

HEADER = ("keyword", "type", "summary", "problems")
SUMMARY_COLUMNS = 40
_KINDS: dict[type, str] = {
    TextReply: "text",
    LinkReply: "link",
    ImageReply: "image",
    MiniProgramPageReply: "miniprogrampage",
    TransferReply: "transfer",
}


def report_rows(parsed: ParsedRules) -> list[tuple[str, str, str, str]]:
    """keyword, type, summary, problems for every key: those in force first, then the rejected."""
    problems: dict[str, list[RuleProblem]] = {}
    for problem in parsed.problems:
        problems.setdefault(problem.key, []).append(problem)
    rows = []
    for key in [*(key for key in parsed.summaries if key not in problems), *problems]:
        replies = parsed.summaries.get(key, ())
        kind = "+".join(_KINDS[type(reply)] for reply in replies) or "-"
        summary = _shorten(escape_controls(" / ".join(_summary(reply) for reply in replies)))
        said = "; ".join(_problem_text(problem) for problem in problems.get(key, []))
        rows.append((escape_controls(key), kind, summary, escape_controls(said)))
    return rows


def format_table(rows: list[tuple[str, str, str, str]]) -> str:
    """The rules report: columns aligned as a terminal shows them."""
    return format_columns(HEADER, rows)


def format_columns(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns aligned as a terminal shows them (CJK characters take two); the last one ragged."""
    table = [header, *rows]
    last = len(header) - 1
    widths = [max(_width(row[column]) for row in table) for column in range(last)]
    rule = (*("-" * width for width in widths), "-" * len(header[last]))
    lines = []
    for row in [header, rule, *rows]:
        cells = [cell + " " * (widths[i] - _width(cell)) for i, cell in enumerate(row[:last])]
        lines.append("  ".join([*cells, row[last]]).rstrip())
    return "".join(line + "\n" for line in lines)


def _summary(reply: Reply) -> str:
    if isinstance(reply, TextReply):
        return " ".join(reply.content.split())
    if isinstance(reply, LinkReply | MiniProgramPageReply):
        target = reply.url if isinstance(reply, LinkReply) else reply.pagepath
        return f"{reply.title} -> {target}"
    if isinstance(reply, ImageReply):
        return reply.image.value
    return "hand over to a human agent"


def _problem_text(problem: RuleProblem) -> str:
    where = f"{problem.field}: " if problem.field else ""
    return f"{where}{problem.problem} (expected {problem.expected})"


def _shorten(text: str) -> str:
    if _width(text) <= SUMMARY_COLUMNS:
        return text
    while _width(text) > SUMMARY_COLUMNS - 1:
        text = text[:-1]
    return text + "…"


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)
