"""The review's findings replayed against real gunicorn: each is now answered safely."""

from __future__ import annotations

import http.client
import json
import random
import socket
import stat
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import diskcache
import pytest
import requests

from adapters.wechat_push.fields import PushFormat
from entrypoints.cli.gunicorn_process import KefuUnderGunicorn
from entrypoints.cli.push_simulator import Mode, PushSimulator, SignedPush
from entrypoints.sandbox.main import serve_sandbox
from entrypoints.sandbox.state import SandboxState
from tests.documents import hostile_patterns
from tests.e2e.conftest import AES_KEY, APPID, APPSECRET, TOKEN
from tests.e2e.servers import gunicorn, kefu_settings, resident_mib, workers_of
from tests.planted import Planted
from tests.polling import wait_until

RULES = {
    "re:^(a+)+$": {"type": "text", "text": "only a"},
    "1": {"type": "text", "text": "一"},
    "default": {"type": "text", "text": "默认回复"},
}
SIMULATOR = PushSimulator(TOKEN, APPID, AES_KEY)


@dataclass
class Running:
    kefu: KefuUnderGunicorn
    sandbox: SandboxState
    log: Path

    def post(self, push: SignedPush, body: bytes | None = None) -> requests.Response:
        data = push.body if body is None else body
        url = f"{self.kefu.url}/wechat/callback"
        return requests.post(url, params=push.params, data=data, timeout=5)

    def sends(self) -> list[str]:
        sent = [c.body for c in self.sandbox.calls if c.path.endswith("/custom/send")]
        return [str(body.get("text", {}).get("content")) for body in sent]  # type: ignore[attr-defined]

    def wait_for_sends(self, count: int) -> list[str]:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(self.sends()) < count:
            time.sleep(0.05)
        return self.sends()


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    (tmp_path / "media").mkdir()
    (tmp_path / "rules.json").write_text(json.dumps(RULES, ensure_ascii=False), encoding="utf-8")
    state = SandboxState()
    log = tmp_path / "kefu.log"
    with (
        serve_sandbox("127.0.0.1", 0, APPID, APPSECRET, state) as sandbox,
        gunicorn(kefu_settings(tmp_path, sandbox.url), log, workers=1) as kefu,
    ):
        yield Running(kefu, state, log)


def push_of(text: str, fmt: PushFormat = PushFormat.JSON) -> SignedPush:
    return SIMULATOR.build(SIMULATOR.text(text, "o_review"), fmt, Mode.SAFE)


def test_the_reviews_redos_message_is_answered_at_once_and_the_worker_stays_healthy(
    running: Running,
):
    hostile = "a" * 40 + "!"  # 41 characters: Python's re backtracks for minutes on it
    started = time.monotonic()
    answer = running.post(push_of(hostile))
    took = time.monotonic() - started
    assert (answer.status_code, answer.text) == (200, "success")
    assert took < 1.0
    health = [requests.get(f"{running.kefu.url}/healthz", timeout=2).status_code for _ in "12345"]
    assert health == [200] * 5
    assert running.wait_for_sends(1) == ["默认回复"]


def test_the_reviews_3000_patterns_answer_long_pushes_at_once_in_bounded_memory(tmp_path: Path):
    (tmp_path / "media").mkdir()
    rules = json.dumps(hostile_patterns(3000), ensure_ascii=False)
    (tmp_path / "rules.json").write_text(rules, encoding="utf-8")
    state, chance = SandboxState(), random.Random(16)
    with (
        serve_sandbox("127.0.0.1", 0, APPID, APPSECRET, state) as sandbox,
        gunicorn(kefu_settings(tmp_path, sandbox.url), tmp_path / "kefu.log") as kefu,
    ):
        running = Running(kefu, state, tmp_path / "kefu.log")
        for warm_up in ("1", "2"):  # each worker has loaded the rules and answered once
            assert running.post(push_of(warm_up)).text == "success"
        workers = workers_of(kefu.pid or 0)
        before = {pid: resident_mib(pid) for pid in workers}
        took = []
        for _ in range(8):
            hostile = "".join(chance.choice("ab") for _ in range(4096))
            started = time.monotonic()
            answer = running.post(push_of(hostile))
            took.append(time.monotonic() - started)
            assert (answer.status_code, answer.text) == (200, "success")
        grown = {pid: resident_mib(pid) - before[pid] for pid in workers}
        assert running.wait_for_sends(10) == ["默认回复"] * 10
    assert len(workers) == 2
    assert max(took) < 1.0, took
    assert max(grown.values()) < 300, grown


def test_a_chunked_push_is_answered_under_gunicorn(running: Running):
    push = push_of("1", PushFormat.XML)
    parts = urlsplit(running.kefu.url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=5)
    pieces = iter([push.body[:50], push.body[50:]])
    connection.request(
        "POST", f"/wechat/callback?{urlencode(push.params)}", body=pieces, encode_chunked=True
    )
    answer = connection.getresponse()
    assert (answer.status, answer.read()) == (200, b"success")
    connection.close()
    assert running.wait_for_sends(1) == ["一"]


def test_a_lone_surrogate_before_authentication_is_a_400_and_no_query_is_logged(
    running: Running,
):
    push = push_of("1")
    answer = running.post(push, body=b'{"Encrypt":"\\ud800"}')
    assert answer.status_code == 400
    running.kefu.stop()
    logs = running.log.read_text(encoding="utf-8")
    assert push.params["msg_signature"] not in logs
    assert push.params["nonce"] not in logs


def test_rule_keys_cannot_forge_log_lines_and_repeated_keys_are_logged(tmp_path: Path):
    (tmp_path / "media").mkdir()
    forged = "@x\n2026-01-01 00:00:00 INFO kefu forged line"
    document = json.dumps({forged: RULES["1"], "clear\x1b[2J": [], "default": RULES["default"]})
    repeated = document[:-1] + ', "default": {"type": "text", "text": "again"}}'
    (tmp_path / "rules.json").write_text(repeated, encoding="utf-8")
    log = tmp_path / "kefu.log"
    with (
        serve_sandbox("127.0.0.1", 0, APPID, APPSECRET, SandboxState()) as sandbox,
        gunicorn(kefu_settings(tmp_path, sandbox.url), log, workers=1) as kefu,
    ):
        kefu.stop()
    lines = log.read_text(encoding="utf-8").splitlines()
    assert not [line for line in lines if "forged line" in line and not line.startswith("20")]
    assert not any(line.startswith("2026-01-01") for line in lines)
    assert any("@x\\n2026-01-01 00:00:00 INFO kefu forged line" in line for line in lines)
    assert any("clear\\x1b[2J" in line for line in lines)
    assert not any("\x1b" in line for line in lines)
    assert any("default: appears more than once in the document" in line for line in lines)


def test_a_pickle_planted_under_the_token_key_never_runs_and_pushes_are_answered(
    tmp_path: Path,
):
    (tmp_path / "media").mkdir()
    (tmp_path / "rules.json").write_text(json.dumps(RULES, ensure_ascii=False), encoding="utf-8")
    marker = tmp_path / "pickle-ran"
    with diskcache.Cache(str(tmp_path / "state")) as planter:  # the review's plant, exactly
        planter.set(f"{APPID}:token", Planted(marker))
    state = SandboxState()
    with (
        serve_sandbox("127.0.0.1", 0, APPID, APPSECRET, state) as sandbox,
        gunicorn(kefu_settings(tmp_path, sandbox.url), tmp_path / "kefu.log", workers=1) as kefu,
    ):
        running = Running(kefu, state, tmp_path / "kefu.log")
        assert running.post(push_of("1")).text == "success"
        assert running.wait_for_sends(1) == ["一"]
    assert not marker.exists()
    folder = tmp_path / "state"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    files = [path for path in folder.iterdir() if path.is_file()]
    assert {path.name: stat.S_IMODE(path.stat().st_mode) for path in files} == {
        path.name: 0o600 for path in files
    }


class _ImageHost(BaseHTTPRequestHandler):
    server: _CountingServer

    def do_GET(self) -> None:
        self.server.paths.append(self.path)
        body = b"DB_PASSWORD=hunter2 admin=root"  # 30 bytes of text called secret.jpg
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _CountingServer(ThreadingHTTPServer):
    daemon_threads = True
    paths: list[str]


@pytest.mark.parametrize("allowed", [False, True])
def test_an_image_url_on_loopback_is_never_uploaded(tmp_path: Path, allowed: bool):
    host = _CountingServer(("127.0.0.1", 0), _ImageHost)
    host.paths = []
    threading.Thread(target=host.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{host.server_address[1]}/secret.jpg"
    rules = {"2": {"type": "image", "url": url}, "default": RULES["default"]}
    (tmp_path / "media").mkdir()
    (tmp_path / "rules.json").write_text(json.dumps(rules, ensure_ascii=False), encoding="utf-8")
    extra = {"KEFU_MEDIA_ALLOW_HOSTS": "127.0.0.1"} if allowed else {}
    state = SandboxState()
    try:
        with (
            serve_sandbox("127.0.0.1", 0, APPID, APPSECRET, state) as sandbox,
            gunicorn(kefu_settings(tmp_path, sandbox.url, **extra), tmp_path / "k.log") as kefu,
        ):
            running = Running(kefu, state, tmp_path / "k.log")
            assert running.post(push_of("2")).text == "success"
            assert running.wait_for_sends(1) == ["默认回复"]  # the fallback, not the "image"
    finally:
        host.shutdown()
        host.server_close()
    assert host.paths == (["/secret.jpg"] if allowed else [])
    assert not [c for c in state.calls if c.path.endswith("/media/upload")]


class _Cms(BaseHTTPRequestHandler):
    server: _CmsServer

    def do_GET(self) -> None:
        if self.server.hang.is_set():
            self.server.release.wait(30)  # the review's hanging CMS
            return
        body = json.dumps(RULES, ensure_ascii=False).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _CmsServer(ThreadingHTTPServer):
    daemon_threads = True
    hang: threading.Event
    release: threading.Event


def test_a_restart_while_the_cms_hangs_serves_the_saved_rules_at_once(tmp_path: Path):
    cms = _CmsServer(("127.0.0.1", 0), _Cms)
    cms.hang, cms.release = threading.Event(), threading.Event()
    threading.Thread(target=cms.serve_forever, daemon=True).start()
    (tmp_path / "media").mkdir()
    state = SandboxState()
    try:
        with serve_sandbox("127.0.0.1", 0, APPID, APPSECRET, state) as sandbox:
            settings = kefu_settings(tmp_path, sandbox.url)
            del settings["KEFU_RULES_FILE"]
            settings["KEFU_RULES_URL"] = f"http://127.0.0.1:{cms.server_address[1]}/rules"
            saved = Path(settings["KEFU_STATE_DIR"]) / "rules" / APPID / "rules.json"
            with gunicorn(settings, tmp_path / "first.log", workers=1):
                # The first run saves the document: its fetch runs behind the start, so wait.
                assert wait_until(saved.is_file, timeout=10)
            cms.hang.set()
            kefu = KefuUnderGunicorn(settings, tmp_path / "second.log")
            kefu.start()
            try:
                started = time.monotonic()
                kefu.wait_until_healthy()
                assert time.monotonic() - started < 5  # the review measured 10 s and more
                running = Running(kefu, state, tmp_path / "second.log")
                assert running.post(push_of("1")).text == "success"
                assert running.wait_for_sends(1) == ["一"]
            finally:
                kefu.stop()
    finally:
        cms.release.set()
        cms.shutdown()
        cms.server_close()


def held_sockets(url: str, count: int, send: bytes, answered: bool) -> list[socket.socket]:
    """count connections that sent `send` and then neither close nor send more."""
    parts = urlsplit(url)
    held = []
    for _ in range(count):
        client = socket.create_connection((parts.hostname, parts.port), timeout=5)
        client.sendall(send)
        if answered:
            assert client.recv(4096).startswith(b"HTTP/1.1 200")
        held.append(client)
    return held


def timed_push(running: Running, text: str) -> float:
    started = time.monotonic()
    answer = running.post(push_of(text))
    assert (answer.status_code, answer.text) == (200, "success")
    return time.monotonic() - started


def test_clients_that_keep_finished_connections_open_never_hold_up_a_push(running: Running):
    request = b"GET /healthz HTTP/1.1\r\nHost: kefu\r\nConnection: close\r\n\r\n"
    held = held_sockets(running.kefu.url, 24, request, answered=True)
    try:
        assert [timed_push(running, "1") < 1.0 for _ in range(3)] == [True] * 3
    finally:
        for client in held:
            client.close()
    assert running.wait_for_sends(3) == ["一"] * 3
