"""Real nginx with config/nginx.conf in front of kefu under gunicorn: it takes the slow clients."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from adapters.wechat_push.fields import PushFormat
from entrypoints.cli.gunicorn_process import KefuUnderGunicorn
from entrypoints.cli.push_simulator import Mode, PushSimulator
from entrypoints.sandbox.main import serve_sandbox
from entrypoints.sandbox.state import SandboxState
from tests.e2e.conftest import AES_KEY, APPID, APPSECRET, TOKEN
from tests.e2e.nginx_proxy import Nginx, nginx_in_front
from tests.e2e.servers import gunicorn, kefu_settings

RULES = {"1": {"type": "text", "text": "一"}, "default": {"type": "text", "text": "默认"}}
SLOW_SOCKETS = 64
SIMULATOR = PushSimulator(TOKEN, APPID, AES_KEY)


pytestmark = pytest.mark.nginx


@dataclass
class Stack:
    kefu: KefuUnderGunicorn
    nginx: Nginx
    sandbox: SandboxState

    def push(self, base: str, text: str, user: str, timeout: float = 5) -> str:
        push = SIMULATOR.build(SIMULATOR.text(text, user), PushFormat.JSON, Mode.SAFE)
        answer = requests.post(
            f"{base}/wechat/callback",
            params=push.params,
            data=push.body,
            timeout=timeout,
            verify=str(self.nginx.certificate),
        )
        return f"{answer.status_code} {answer.text}"


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    (tmp_path / "media").mkdir()
    (tmp_path / "rules.json").write_text(json.dumps(RULES, ensure_ascii=False), encoding="utf-8")
    state = SandboxState()
    # Few threads, so that without nginx a handful of slow sockets would take them all.
    settings = {**kefu_settings(tmp_path, ""), "GUNICORN_THREADS": "4"}
    with ExitStack() as stack:
        sandbox = stack.enter_context(serve_sandbox("127.0.0.1", 0, APPID, APPSECRET, state))
        settings["KEFU_WECHAT_API_BASE"] = sandbox.url
        kefu = stack.enter_context(gunicorn(settings, tmp_path / "kefu.log", workers=1))
        upstream = urlsplit(kefu.url).netloc
        nginx = stack.enter_context(nginx_in_front(upstream, tmp_path / "nginx"))
        yield Stack(kefu, nginx, state)


def half_requests(url: str, count: int) -> list[socket.socket]:
    """Sockets that each send half a request line and then nothing (the review's attack)."""
    parts = urlsplit(url)
    sockets = []
    for _ in range(count):
        sock = socket.create_connection((parts.hostname, parts.port), timeout=5)
        sock.sendall(b"POST /wechat/callb")
        sockets.append(sock)
    return sockets


def test_64_slow_sockets_through_nginx_leave_genuine_pushes_answered(stack: Stack):
    slow = half_requests(stack.nginx.http_url, SLOW_SOCKETS)
    try:
        time.sleep(0.5)  # let every slow socket be accepted first
        users = [f"o_nginx_{n}" for n in range(10)]
        with ThreadPoolExecutor(max_workers=5) as pool:
            answers = list(pool.map(lambda u: stack.push(stack.nginx.https_url, "1", u), users))
        assert answers == ["200 success"] * 10
        health = requests.get(
            f"{stack.nginx.https_url}/healthz", timeout=5, verify=str(stack.nginx.certificate)
        )
        assert health.status_code == 200
    finally:
        for sock in slow:
            sock.close()


def test_nginx_drops_a_client_slow_to_send_its_headers(stack: Stack):
    [sock] = half_requests(stack.nginx.http_url, 1)
    started = time.monotonic()
    with sock:
        sock.settimeout(15)
        closed = sock.recv(1024)  # nginx answers 408 or just closes
    assert time.monotonic() - started < 10
    assert closed in (b"",) or closed.startswith(b"HTTP/1.1 408")


def test_only_the_callback_and_health_routes_are_proxied(stack: Stack):
    base = stack.nginx.https_url
    cert = str(stack.nginx.certificate)
    assert requests.get(f"{base}/healthz", timeout=5, verify=cert).status_code == 200
    ready = requests.get(f"{base}/readyz", timeout=5, verify=cert)  # loopback is let through
    assert ready.status_code in (200, 503) and "checks" in ready.json()
    for path in ("/", "/metrics", "/wechat/callback/../../healthz2", "/sandbox/calls"):
        assert requests.get(f"{base}{path}", timeout=5, verify=cert).status_code == 404
    big = requests.post(
        f"{base}/wechat/callback", data=b"x" * (64 * 1024 + 1), timeout=5, verify=cert
    )
    assert big.status_code == 413


def test_without_nginx_the_same_slow_sockets_hold_up_no_push_and_are_closed(stack: Stack):
    """gunicorn alone: the worker's loop, not a thread, waits for the rest of a request head."""
    slow = half_requests(stack.kefu.url, SLOW_SOCKETS)
    try:
        time.sleep(0.5)
        for user in (f"o_alone_{n}" for n in range(5)):
            started = time.monotonic()
            assert stack.push(stack.kefu.url, "1", user) == "200 success"
            assert time.monotonic() - started < 1.0
        slow[0].settimeout(15)
        assert slow[0].recv(1024) == b""  # closed once its 5 s for the head are up
        assert time.monotonic() - started < 8
    finally:
        for sock in slow:
            sock.close()
