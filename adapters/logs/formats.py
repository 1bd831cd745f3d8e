"""kefu's log lines: text for people (the default) or one JSON object per line for machines."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from adapters.logs.push_context import PUSH_HEADER, PushContextFilter, current_push_id

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s"
# Attributes every LogRecord has; anything else on a record is a field its event carries.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "push_id",
}
# gunicorn's access line passes its atoms as the record's args: these become fields.
_ACCESS_FIELDS = {"m": "method", "U": "path", "s": "status", "B": "bytes", "M": "duration_ms"}


def _push_id(record: logging.LogRecord) -> str | None:
    pushed = record.__dict__.get("push_id")
    return pushed if isinstance(pushed, str) else current_push_id()


class TextFormatter(logging.Formatter):
    """The classic line, with `push=<id>` at the end of every line about a push."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        push_id = _push_id(record)
        return line if push_id is None else f"{line} push={push_id}"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, push_id and the event's fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "push_id": _push_id(record),
            "pid": record.process,
        }
        entry |= {k: v for k, v in vars(record).items() if k not in _STANDARD}
        if record.name == "gunicorn.access" and isinstance(record.args, Mapping):
            entry |= {name: record.args.get(atom) for atom, name in _ACCESS_FIELDS.items()}
            pushed = record.args.get(f"{{{PUSH_HEADER.lower()}}}o")
            entry["push_id"] = pushed if pushed and pushed != "-" else entry["push_id"]
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False, default=str)


class KefuLogHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The root logger's handler for kefu's own lines, on stderr."""


def install_log_handler(level: str, log_format: str) -> KefuLogHandler:
    """Send every log line to stderr as text or JSON at `level`; replaces an earlier call's."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, KefuLogHandler)]:
        root.removeHandler(old)
    handler = KefuLogHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(PushContextFilter())
    root.addHandler(handler)
    root.setLevel(level)
    return handler


def gunicorn_logconfig(level: str) -> dict[str, Any]:
    """gunicorn's logconfig_dict for JSON: its own lines as JSON, the root left to kefu."""
    formatter = f"{JsonFormatter.__module__}.{JsonFormatter.__qualname__}"

    def stream(name: str) -> dict[str, str]:
        return {"class": "logging.StreamHandler", "formatter": "json", "stream": f"ext://{name}"}

    def logger(handler: str, logger_level: str) -> dict[str, Any]:
        return {"level": logger_level, "handlers": [handler], "propagate": False}

    return {
        "version": 1,
        "disable_existing_loggers": False,
        "root": {"level": level, "handlers": []},
        "loggers": {
            "gunicorn.error": logger("stderr", level),
            "gunicorn.access": logger("stdout", "INFO"),
        },
        "handlers": {"stderr": stream("sys.stderr"), "stdout": stream("sys.stdout")},
        "formatters": {"json": {"()": formatter}},
    }
