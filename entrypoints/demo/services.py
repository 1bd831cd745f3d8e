"""The demo's moving parts: throwaway credentials, a local image host, signal handling."""

from __future__ import annotations

import contextlib
import functools
import secrets
import signal
import string
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any

from entrypoints.cli.gunicorn_process import LOCALHOST


@dataclass(frozen=True)
class Throwaway:
    """Made-up credentials, new for every demo; the sandbox and kefu are both given them."""

    appid: str
    token: str = field(repr=False)
    encoding_aes_key: str = field(repr=False)
    appsecret: str = field(repr=False)

    @classmethod
    def generate(cls, choice: Callable[[str], str] = secrets.choice) -> Throwaway:
        def text(alphabet: str, size: int) -> str:
            return "".join(choice(alphabet) for _ in range(size))

        return cls(
            appid="wx" + text("0123456789abcdef", 16),
            token=text(string.ascii_letters + string.digits, 32),
            encoding_aes_key=text(string.ascii_letters + string.digits, 43),
            appsecret=text("0123456789abcdef", 32),
        )


class _QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Keep the transcript clean."""


class StaticFiles:
    """Serves one folder over HTTP on 127.0.0.1, as a CMS serves its images on the web."""

    def __init__(self, folder: Path, host: str = LOCALHOST, port: int = 0) -> None:
        handler = functools.partial(_QuietFiles, directory=str(folder))
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self.url = f"http://{host}:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="demo-images")
        self._thread.daemon = True
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


SHUTDOWN_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def _handling(handler: Callable[[int, FrameType | None], None] | int) -> Iterator[None]:
    """Ctrl-C and SIGTERM go to handler while inside; signals can only be set in the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, handler) for sig in SHUTDOWN_SIGNALS}
    try:
        yield
    finally:
        for sig, before in previous.items():
            signal.signal(sig, before)


def interrupts() -> contextlib.AbstractContextManager[None]:
    """Ctrl-C and SIGTERM raise KeyboardInterrupt, also where the shell made the demo ignore
    SIGINT (a background job), so the demo always gets to stop what it started."""
    return _handling(_raise_interrupt)


def uninterruptible() -> contextlib.AbstractContextManager[None]:
    """While shutting down, a second Ctrl-C must not leave gunicorn half stopped."""
    return _handling(signal.SIG_IGN)
