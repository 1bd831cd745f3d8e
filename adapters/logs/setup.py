"""Logging for a kefu process: text or JSON, the level from the settings, secrets masked."""

from __future__ import annotations

from adapters.logs.escaping import install_escaping
from adapters.logs.formats import install_log_handler
from adapters.logs.redaction import install_redaction


def configure_logging(level: str, secrets: tuple[str, ...], log_format: str = "text") -> None:
    """Log to stderr at `level` as text or JSON, secrets masked, control characters escaped."""
    install_log_handler(level, log_format)
    install_redaction(*secrets)
    install_escaping()
