"""A redis-server of a test's own: the session's shared one (tests/conftest.py) or one to kill."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time

import pytest
import redis

from entrypoints.cli.gunicorn_process import free_port


class OwnRedis:
    """A redis-server of the test's own on a port of its own, to configure, kill and restart."""

    def __init__(self, *options: str) -> None:
        server = shutil.which("redis-server")
        if server is None:
            pytest.fail("redis-server is not installed")
        self.server, self.port, self.options = server, free_port(), options
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start it and return once it answers PING (an ACL-protected one answers NOAUTH)."""
        command = [self.server, "--port", str(self.port), "--bind", "127.0.0.1"]
        self.process = subprocess.Popen(
            [*command, "--save", "", "--appendonly", "no", *self.options],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_timeout=1, socket_connect_timeout=1)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                client.ping()
                return
            except redis.AuthenticationError:
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("the test's Redis did not start")

    def freeze(self) -> None:
        """SIGSTOP: connections stay open and nothing answers, as on a stalled host."""
        if self.process is not None:
            self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
            self.process = None
