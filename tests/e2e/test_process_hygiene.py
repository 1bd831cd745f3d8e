"""kefu under gunicorn as a host runs it: no shared control socket, and a prompt stop."""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
import requests

from adapters.wechat_push.fields import PushFormat
from entrypoints.cli.gunicorn_process import KefuUnderGunicorn
from entrypoints.cli.push_simulator import Mode, PushSimulator
from entrypoints.sandbox.main import SandboxServer, serve_sandbox
from tests.documents import CONTRACT_DOCUMENT
from tests.e2e.conftest import AES_KEY, APPID, APPSECRET, TOKEN
from tests.e2e.servers import gunicorn, kefu_settings


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with serve_sandbox("127.0.0.1", 0, APPID, APPSECRET) as served:
        yield served


def folder_with_rules(folder: Path) -> Path:
    (folder / "media").mkdir(parents=True)
    rules = {"default": CONTRACT_DOCUMENT["default"]}
    (folder / "rules.json").write_text(json.dumps(rules), encoding="utf-8")
    return folder


def test_two_instances_on_one_host_leave_each_others_control_socket_alone(tmp_path, sandbox):
    home = tmp_path / "home"
    home.mkdir()
    base = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"} | {"HOME": str(home)}
    first = folder_with_rules(tmp_path / "first")
    second = folder_with_rules(tmp_path / "second")
    one = KefuUnderGunicorn(kefu_settings(first, sandbox.url), tmp_path / "1.log", base_env=base)
    two = KefuUnderGunicorn(kefu_settings(second, sandbox.url), tmp_path / "2.log", base_env=base)
    try:
        for kefu in (one, two):
            kefu.start()
        for kefu in (one, two):
            kefu.wait_until_healthy()
        assert not (home / ".gunicorn").exists()
        one.stop()
        assert requests.get(f"{two.url}/healthz", timeout=5).status_code == 200
    finally:
        one.stop()
        two.stop()
    logs = (tmp_path / "1.log").read_text() + (tmp_path / "2.log").read_text()
    assert "control socket" not in logs.lower()


def test_a_control_socket_is_opened_only_where_one_is_asked_for(tmp_path, sandbox):
    folder = folder_with_rules(tmp_path)
    path = tmp_path / "kefu.ctl"
    settings = kefu_settings(folder, sandbox.url, GUNICORN_CONTROL_SOCKET=str(path))
    with gunicorn(settings, tmp_path / "kefu.log", workers=1):
        # gunicorn opens it once the workers are spawned, maybe after the first answers.
        deadline = time.monotonic() + 10
        while not path.is_socket() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert path.is_socket()


def test_on_sigterm_new_connections_are_refused_at_once_while_a_push_in_flight_finishes(
    tmp_path, sandbox
):
    folder = folder_with_rules(tmp_path)
    settings = kefu_settings(folder, sandbox.url, GUNICORN_GRACEFUL_TIMEOUT="20")
    simulator = PushSimulator(TOKEN, APPID, AES_KEY)
    push = simulator.build(simulator.text("hi", "o_stopping"), PushFormat.JSON, Mode.SAFE)
    with gunicorn(settings, tmp_path / "kefu.log", workers=1) as kefu:
        address = urlsplit(kefu.url)
        host, port = address.hostname or "", address.port or 0
        in_flight = socket.create_connection((host, port), timeout=10)
        head = (
            f"POST /wechat/callback?{urlencode(push.params)} HTTP/1.1\r\nHost: {host}\r\n"
            f"Content-Type: {push.content_type}\r\nContent-Length: {len(push.body)}\r\n\r\n"
        )
        half = len(push.body) // 2
        in_flight.sendall(head.encode() + push.body[:half])
        time.sleep(0.5)  # the worker has taken the request and waits for the rest of its body
        assert kefu.pid is not None
        os.kill(kefu.pid, signal.SIGTERM)
        refused_after = _seconds_until_refused(host, port, within=3.0)
        in_flight.sendall(push.body[half:])
        answer = _read_answer(in_flight)
    assert refused_after < 3.0
    assert answer.startswith("HTTP/1.1 200")
    assert answer.endswith("success")


def _seconds_until_refused(host: str, port: int, within: float) -> float:
    """How long until connecting to host:port is refused; `within` when it never was."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        try:
            socket.create_connection((host, port), timeout=0.5).close()
        except ConnectionRefusedError:
            return time.monotonic() - started
        time.sleep(0.05)
    return within


def _read_answer(connection: socket.socket) -> str:
    received = b""
    while not received.endswith(b"success"):
        chunk = connection.recv(4096)
        if not chunk:
            break
        received += chunk
    connection.close()
    return received.decode()
