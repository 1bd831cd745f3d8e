"""`re:` keys compiled with RE2, whose matching time is linear in the text."""

from __future__ import annotations

import re2

from domain.errors import PatternRefused
from domain.rules import TextPattern


def compile_re2(source: str) -> TextPattern:
    """source as a case-insensitive RE2 pattern. Raises PatternRefused.

    RE2, not Python's re: no pattern a CMS editor writes can hold a worker (`^(a+)+$` would
    take Python's re minutes on 40 characters). RE2 refuses backreferences and look-around.
    """
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False  # refusals are reported by key, not printed on stderr
    try:
        pattern: TextPattern = re2.compile(source, options)
    except re2.error as refused:
        raise PatternRefused(_reason(refused)) from None
    return pattern


def _reason(error: Exception) -> str:
    reason = error.args[0] if error.args else error
    return reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)
