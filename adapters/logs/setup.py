"""Logging for a kefu process: text or JSON, the level from the settings, secrets masked."""

from __future__ import annotations

import logging

from adapters.logs.escaping import install_escaping
from adapters.logs.formats import install_log_handler
from adapters.logs.redaction import install_redaction


def configure_logging(level: str, secrets: tuple[str, ...], log_format: str = "text") -> None:
    """Log to stderr at `level` as text or JSON, secrets masked, control characters escaped."""
    install_log_handler(level, log_format)
    quiet_chatty_libraries(level)
    install_redaction(*secrets)
    install_escaping()


# Libraries that log every job they run at INFO: two lines per push, about 96,000 an hour.
CHATTY = ("huey",)


def quiet_chatty_libraries(level: str) -> None:
    """At INFO and above, only their warnings; with KEFU_LOG_LEVEL=DEBUG, everything."""
    for name in CHATTY:
        debugging = logging.getLevelName(level.upper()) == logging.DEBUG
        logging.getLogger(name).setLevel(logging.DEBUG if debugging else logging.WARNING)
