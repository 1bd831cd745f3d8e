"""The `kefu rules check` table: one row per key, aligned as a terminal shows CJK text."""

from __future__ import annotations

from collections.abc import Callable

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
from domain.wording import Words, words
from entrypoints.cli.columns import table, width

HEADER = ("keyword", "type", "summary", "problems")
SUMMARY_COLUMNS = 40
_KINDS: dict[type, str] = {
    TextReply: "text",
    LinkReply: "link",
    ImageReply: "image",
    MiniProgramPageReply: "miniprogrampage",
    TransferReply: "transfer",
}


Say = Callable[[Words], str]
"""Words in the reader's language: str gives English."""


def report_rows(parsed: ParsedRules, say: Say = str) -> list[tuple[str, str, str, str]]:
    """keyword, type, summary, problems for every key: those in force first, then the rejected."""
    problems: dict[str, list[RuleProblem]] = {}
    for problem in parsed.problems:
        problems.setdefault(problem.key, []).append(problem)
    rows = []
    for key in [*(key for key in parsed.summaries if key not in problems), *problems]:
        replies = parsed.summaries.get(key, ())
        kind = "+".join(_KINDS[type(reply)] for reply in replies) or "-"
        summary = " / ".join(_summary(reply, say) for reply in replies)
        said = "; ".join(_problem_text(problem, say) for problem in problems.get(key, []))
        rows.append(
            (escape_controls(key), kind, _shorten(escape_controls(summary)), escape_controls(said))
        )
    return rows


def format_table(rows: list[tuple[str, str, str, str]]) -> str:
    """The rules report: columns aligned as a terminal shows them."""
    return table(HEADER, rows)


def _summary(reply: Reply, say: Say) -> str:
    if isinstance(reply, TextReply):
        return " ".join(reply.content.split())
    if isinstance(reply, LinkReply | MiniProgramPageReply):
        target = reply.url if isinstance(reply, LinkReply) else reply.pagepath
        return f"{reply.title} -> {target}"
    if isinstance(reply, ImageReply):
        return reply.image.value
    return say(words("hand over to a human agent"))


def _problem_text(problem: RuleProblem, say: Say) -> str:
    found, expected = problem.problem, problem.expected
    if problem.field:
        framed = words(
            "{field}: {problem} (expected {expected})",
            field=problem.field,
            problem=found,
            expected=expected,
        )
    else:
        framed = words("{problem} (expected {expected})", problem=found, expected=expected)
    return say(framed)


def _shorten(text: str) -> str:
    if width(text) <= SUMMARY_COLUMNS:
        return text
    while width(text) > SUMMARY_COLUMNS - 1:
        text = text[:-1]
    return text + "…"
