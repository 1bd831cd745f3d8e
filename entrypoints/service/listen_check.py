"""Before gunicorn binds: a taken port is one clear line, not five retries and a traceback."""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import Iterable


class CannotListen(Exception):
    """An address gunicorn would bind cannot be bound; the message says why and what to do."""


def check_can_listen(addresses: Iterable[object]) -> None:
    """Bind and release each (host, port) gunicorn is about to bind. Raises CannotListen.

    Sockets handed over by a previous master (USR2) or by systemd are already bound: skipped.
    """
    if os.environ.get("GUNICORN_FD") or os.environ.get("LISTEN_FDS"):
        return
    for address in addresses:
        if isinstance(address, tuple):
            _try_bind(str(address[0]), int(address[1]))


def _try_bind(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        # create_server sets SO_REUSEADDR as gunicorn does, so only a live listener counts.
        socket.create_server((host, port), family=family).close()
    except OSError as failed:
        if failed.errno == errno.EADDRINUSE:
            raise CannotListen(
                f"port {port} on {host} is already in use: stop what listens there, or choose "
                "another port with `kefu serve --port N` (or PORT=N)"
            ) from None
        raise CannotListen(f"cannot listen on {host}:{port}: {failed.strerror or failed}") from None
