"""Control characters shown, not obeyed: a rule key with a newline cannot forge a log line."""

from __future__ import annotations

import logging
import re

# C0 and C1 controls (newline, ESC, ...), line and paragraph separators, and the bidi controls
# and marks that reorder what a terminal shows. Tabs stay: they cannot forge or hide anything.
_CONTROLS = re.compile(
    "[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)


def escape_controls(text: str) -> str:
    """text with each control character written as its Python escape (\\n, \\x1b, \\u202e)."""
    return _CONTROLS.sub(lambda found: found.group().encode("unicode_escape").decode(), text)


class EscapeControls(logging.Filter):
    """Escapes control characters in each record's message, so one record is one line.

    Tracebacks are left alone: their line breaks are the formatter's, not a sender's.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is logging's problem to report, not ours
            return True
        record.msg, record.args = escape_controls(message), None
        return True


_FILTER = EscapeControls()


def install_escaping() -> None:
    """Escape control characters on the root logger's handlers; safe to call again."""
    for handler in logging.getLogger().handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)
