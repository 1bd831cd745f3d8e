"""KEFU_RULES_HEADERS_FILE: extra headers for every CMS request (an auth token, say)."""

from __future__ import annotations

import re
from pathlib import Path

Headers = tuple[tuple[str, str], ...]

# RFC 9110 token characters, and a value of visible ASCII, spaces and tabs: nothing a server
# could read as a second header or an end of headers.
_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_VALUE = re.compile(r"[\x20-\x7e\t]+")
# What kefu or HTTP itself sets: a header file overriding them would break framing or the
# conditional GETs.
_KEFU_SETS = frozenset(
    {
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "accept-encoding",
        "if-none-match",
        "if-modified-since",
    }
)


class HeadersFileError(ValueError):
    """The headers file cannot be used; says where, never what a value is."""


def read_headers(path: Path) -> Headers:
    """Each `Name: value` line of the file, in order; blank lines and `#` comments skipped.

    Raises HeadersFileError naming the line, without echoing it: values are secrets.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "it is not UTF-8 text"
        raise HeadersFileError(f"{path} cannot be read: {reason}") from None
    headers: dict[str, tuple[str, str]] = {}
    # Split on newlines only: splitlines() would also end a line at U+0085 or U+2028 in a value.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, value = _header(number, line)
        if name.lower() in headers:
            raise HeadersFileError(f"line {number} repeats the header {name}")
        headers[name.lower()] = (name, value)
    return tuple(headers.values())


def _header(number: int, line: str) -> tuple[str, str]:
    name, colon, value = line.partition(":")
    name, value = name.strip(), value.strip(" \t\r")
    if not colon or not _NAME.fullmatch(name) or not _VALUE.fullmatch(value):
        raise HeadersFileError(f"line {number} is malformed: expected `Name: value`")
    if name.lower() in _KEFU_SETS:
        raise HeadersFileError(f"line {number}: kefu sets {name} itself; remove the line")
    return name, value
