"""How each KEFU_ variable's text becomes a value: parsers that raise ValueError when malformed."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

_AES_KEY = re.compile(r"[A-Za-z0-9]{43}")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("text", "json")
METRICS_OFF = "off"
DEFAULT_METRICS_ADDR: tuple[str, int] | None = ("127.0.0.1", 9108)
AES_HINT = "the 43 letters and digits of the EncodingAESKey"


class Malformed(ValueError):
    """A value that is not what the setting takes; `found` says what it is instead, never
    showing the value itself (it may be a secret)."""

    def __init__(self, found: str) -> None:
        super().__init__(found)
        self.found = found


def aes_key(value: str) -> str:
    if len(value) != 43:
        # NOTE: a 44th character is usually base64's "=" padding copied along with the key.
        raise Malformed(f"got {len(value)}")
    if not _AES_KEY.fullmatch(value):
        raise Malformed("got a character that is not a letter or digit")
    return value


def http_url(value: str) -> str:
    if not re.match(r"^https?://[^/\s]+", value):
        raise ValueError
    return value.rstrip("/")


def redis_url(value: str) -> str:
    if not re.match(r"^(rediss?|unix)://", value):
        raise ValueError
    return value


def non_negative(value: str) -> float:
    number = float(value)
    if number < 0 or number != number:
        raise ValueError
    return number


def positive(value: str) -> float:
    number = non_negative(value)
    if number == 0 or number == float("inf"):
        raise ValueError
    return number


def count(value: str) -> int:
    """A whole number, 0 or more (how many threads, say)."""
    return seconds(value)


def seconds(value: str) -> int:
    number = int(value)
    if number < 0:
        raise ValueError
    return number


def moment(value: str) -> float:
    """An ISO-8601 time as seconds since the epoch; one without an offset is UTC."""
    parsed = datetime.fromisoformat(value.strip())
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def folder(value: str) -> Path:
    path = Path(value)
    if not path.is_dir():
        raise ValueError
    return path


def route(value: str) -> str:
    if not value.startswith("/") or " " in value:
        raise ValueError
    return value


def level(value: str) -> str:
    if value.upper() not in LEVELS:
        raise ValueError
    return value.upper()


def on_off(value: str) -> bool:
    if value.lower() not in ("on", "off"):
        raise ValueError
    return value.lower() == "on"


def host_list(value: str) -> frozenset[str]:
    hosts = [h.strip().lower() for h in value.split(",")]
    if not all(h and re.fullmatch(r"[\w.:\[\]-]+", h) for h in hosts):
        raise ValueError
    return frozenset(h.strip("[]") for h in hosts)


def log_format(value: str) -> str:
    if value.lower() not in LOG_FORMATS:
        raise ValueError
    return value.lower()


def address(value: str) -> tuple[str, int] | None:
    """HOST:PORT as a pair, or None for `off`."""
    if value.lower() == METRICS_OFF:
        return None
    host, colon, port = value.rpartition(":")
    number = int(port)
    if not colon or not host or not 0 < number < 65536:
        raise ValueError
    return host.strip("[]"), number
