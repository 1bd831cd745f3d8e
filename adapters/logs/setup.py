"""Logging for a kefu process: one format, the level from the settings, secrets masked."""

from __future__ import annotations

import logging

from adapters.logs.escaping import install_escaping
from adapters.logs.redaction import install_redaction

FORMAT = "%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s"


def configure_logging(level: str, secrets: tuple[str, ...]) -> None:
    """Log to stderr at `level`, secrets masked and control characters escaped."""
    logging.basicConfig(level=level, format=FORMAT)
    logging.getLogger().setLevel(level)
    install_redaction(*secrets)
    install_escaping()
