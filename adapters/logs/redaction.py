"""A logging filter that keeps access tokens and other secrets out of every log line."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

MASK = "***"
# NOTE: literal secrets shorter than this are not masked: replacing every "t" of a 1-letter test
# token would garble every line. WeChat's Token is 3-32 characters; real ones should be longer.
MIN_LITERAL = 6

# access_token=... and secret=... in URLs and form bodies, up to the next separator.
_QUERY_SECRET = re.compile(r"\b((?:access_token|secret)=)[^&\s'\"]+", re.IGNORECASE)
# "access_token": "..." and 'secret': '...' in logged JSON bodies and Python reprs.
_MAPPED_SECRET = re.compile(
    r"""(["'](?:access_token|secret)["']\s*:\s*["'])[^"']*""", re.IGNORECASE
)

# urllib3 logs every request line, query string and all, at DEBUG.
URLLIB3_LOGGERS = ("urllib3", "urllib3.connectionpool", "urllib3.util.retry")


def redact(text: str, literals: Iterable[str] = ()) -> str:
    """text with token and secret values, and every given literal secret, masked."""
    for literal in sorted((s for s in literals if len(s) >= MIN_LITERAL), key=len, reverse=True):
        text = text.replace(literal, MASK)
    text = _QUERY_SECRET.sub(rf"\g<1>{MASK}", text)
    return _MAPPED_SECRET.sub(rf"\g<1>{MASK}", text)


class RedactSecrets(logging.Filter):
    """Rewrites each record's message, traceback and stack text with secrets masked."""

    def __init__(self, *secrets: str) -> None:
        super().__init__()
        self._secrets: tuple[str, ...] = ()
        self.add(*secrets)

    def add(self, *secrets: str) -> None:
        """Also mask these literal values (empty strings are ignored)."""
        # Replaced, never mutated, so a thread logging meanwhile sees one whole tuple.
        self._secrets = tuple(set(self._secrets) | {s for s in secrets if s})

    def __repr__(self) -> str:
        return f"RedactSecrets({len(self._secrets)} literal secret(s))"

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is logging's problem to report, not ours
            return True
        record.msg, record.args = redact(message, self._secrets), None
        if record.exc_info and not record.exc_text:
            # Formatters reuse exc_text when set, so the traceback is printed scrubbed.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self._secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self._secrets)
        return True


_FILTER = RedactSecrets()


def install_redaction(*secrets: str) -> RedactSecrets:
    """Mask secrets on the root logger's handlers and the urllib3 loggers; safe to call again.

    Handlers added to the root logger later need another call; the urllib3 loggers stay covered.
    """
    _FILTER.add(*secrets)
    targets: list[logging.Filterer] = [logging.getLogger(n) for n in URLLIB3_LOGGERS]
    targets.extend(logging.getLogger().handlers)
    for target in targets:
        if _FILTER not in target.filters:
            target.addFilter(_FILTER)
    return _FILTER
