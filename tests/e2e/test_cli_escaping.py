"""Every command shows stored and received text escaped: WeChat's errmsg in a dead letter or a
readiness check cannot clear the screen, retitle the terminal or forge a row."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from adapters.queue.dead_letters import DeadLetter
from domain.jobs import ReplyJob
from domain.replies import TextReply
from entrypoints.cli.gunicorn_process import ROOT
from entrypoints.service.container import Container
from entrypoints.service.settings import Settings
from tests.e2e.servers import kefu_settings

ERRMSG = "\x1b[2J\x1b]0;owned\x07\rdone\nd-2  o_ev…il  forged row"
ESCAPED = "\\x1b[2J\\x1b]0;owned\\x07\\rdone\\nd-2  o_ev…il  forged row"
RAW = ("\x1b", "\x07", "\r", "\nd-2")


@contextmanager
def wechat_saying(errmsg: str) -> Iterator[str]:
    """A stand-in for WeChat's API that refuses every call with errcode 40013 and errmsg."""
    answer = json.dumps({"errcode": 40013, "errmsg": errmsg}).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        do_POST = do_GET

        def log_message(self, format: str, *args: object) -> None:
            """Quiet."""

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    (tmp_path / "media").mkdir()
    (tmp_path / "rules.json").write_text('{"default": {"type": "text", "text": "好"}}', "utf-8")
    with wechat_saying(ERRMSG) as wechat:
        yield kefu_settings(tmp_path, wechat)


def kefu(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("KEFU_")}
    return subprocess.run(
        [sys.executable, "-m", "entrypoints.cli.main", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def plant_dead_letter(env: dict[str, str], job_id: str, errmsg: str) -> None:
    container = Container(settings=Settings.from_env(env))
    try:
        job = ReplyJob("o_user_1:1", "o_user_1", (TextReply("好"),))
        letter = DeadLetter(job_id, job, 1, f"WeChat API errcode 45015: {errmsg}", 1.0e9)
        container.reply_queue().dead_letters.add(letter)
    finally:
        container.shutdown_resources()


def test_a_dead_letters_stored_errmsg_is_listed_escaped_on_one_row(env):
    plant_dead_letter(env, "d-1", ERRMSG)
    listed = kefu(env, "dead-letters")
    assert listed.returncode == 0, listed.stderr
    assert not any(raw in listed.stdout for raw in RAW)
    header, _, row = listed.stdout.splitlines()
    assert header.startswith("id ")
    assert row.startswith("d-1 ") and row.endswith(f"WeChat API errcode 45015: {ESCAPED}")


def test_a_dead_letters_id_is_escaped_when_acted_on(env):
    plant_dead_letter(env, "d-\x1b[31m", "gone")
    dropped = kefu(env, "dead-letters", "drop", "--all")
    assert dropped.stdout == "d-\\x1b[31m  dropped\n"


def test_kefu_status_shows_wechats_errmsg_escaped(env):
    shown = kefu(env, "status")
    assert shown.returncode == 1
    assert not any(raw in shown.stdout for raw in RAW)
    (token,) = [line for line in shown.stdout.splitlines() if "access token" in line]
    assert f"WeChat API errcode 40013: {ESCAPED}" in token


def test_kefu_status_url_shows_a_remote_report_escaped(env):
    report = {"ready": False, "checks": {"rules\x1b[2J": {"ok": False, "detail": ERRMSG}}}
    with served_readyz(report) as url:
        shown = kefu(env, "status", "--url", url)
    assert shown.returncode == 1
    assert not any(raw in shown.stdout for raw in RAW)
    assert shown.stdout.splitlines()[1] == f"  FAIL  rules\\x1b[2J  {ESCAPED}"


@contextmanager
def served_readyz(report: dict[str, object]) -> Iterator[str]:
    body = json.dumps(report).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(503)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet."""

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
