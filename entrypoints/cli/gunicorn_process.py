"""kefu under real gunicorn as a child process, for the demo and the end-to-end tests."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import requests

from entrypoints.cli.shipped import GUNICORN_CONF

# The folder holding the top-level packages: the checkout, or site-packages when installed.
ROOT = Path(__file__).resolve().parents[2]
LOCALHOST = "127.0.0.1"
# Variables that would change how gunicorn binds, sizes or logs; the caller sets its own.
_OWN_PREFIXES = ("KEFU_", "GUNICORN_")
_OWN_NAMES = frozenset({"PORT", "HOST", "WEB_CONCURRENCY"})


def free_port(host: str = LOCALHOST) -> int:
    """A port nothing listens on right now (another process could still take it first)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class KefuDidNotStart(Exception):
    """gunicorn exited or never answered /healthz; `log` is the end of what it printed."""

    def __init__(self, reason: str, log: str) -> None:
        super().__init__(reason)
        self.reason, self.log = reason, log


class KefuUnderGunicorn:
    """kefu served by gunicorn with its shipped gunicorn.conf.py in a process group of its own.

    It gets exactly `settings` as its KEFU_ variables: none is taken from base_env.
    """

    def __init__(
        self,
        settings: Mapping[str, str],
        log_path: Path,
        port: int | None = None,
        base_env: Mapping[str, str] = os.environ,
        workers: int = 1,
    ) -> None:
        port = free_port() if port is None else port
        # Metrics on a free port of their own, unless the caller named one (or `off`).
        metrics = {"KEFU_METRICS_ADDR": f"{LOCALHOST}:{free_port()}"}
        settings = {**metrics, **settings}
        self._env = {**_environment(settings, port, base_env), "WEB_CONCURRENCY": str(workers)}
        self.metrics_url = f"http://{settings['KEFU_METRICS_ADDR']}/metrics"
        self._log_path = log_path
        self.url = f"http://{LOCALHOST}:{port}"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def start(self) -> None:
        command = [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF)]
        with self._log_path.open("ab") as log:
            # A session of its own: Ctrl-C reaches the demo only, and the demo stops gunicorn.
            self._process = subprocess.Popen(
                [*command, "entrypoints.wsgi:app"],
                cwd=ROOT,
                env=self._env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_until_healthy(self, timeout: float = 30.0) -> None:
        """Returns once /healthz answers 200. Raises KefuDidNotStart."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                raise KefuDidNotStart("gunicorn exited during start-up", self.log_tail())
            try:
                if requests.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise KefuDidNotStart(f"kefu did not answer /healthz within {timeout:g} s", self.log_tail())

    def stop(self, grace: float = 15.0) -> None:
        """Stop gracefully, then kill whatever of the process group is left."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=grace)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # workers, should any outlive their master
        process.wait()

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self._log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def _environment(settings: Mapping[str, str], port: int, base: Mapping[str, str]) -> dict[str, str]:
    """base without any KEFU_ or gunicorn setting of its own, plus settings and the port."""
    kept = {
        name: value
        for name, value in base.items()
        if not name.startswith(_OWN_PREFIXES) and name not in _OWN_NAMES
    }
    return {**kept, **settings, "HOST": LOCALHOST, "PORT": str(port), "WEB_CONCURRENCY": "1"}
