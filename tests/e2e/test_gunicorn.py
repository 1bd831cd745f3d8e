"""kefu under real gunicorn with config/gunicorn.conf.py, talking to the sandbox over HTTP."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from adapters.wechat_push.crypto import signature
from adapters.wechat_push.fields import PushFormat
from entrypoints.cli.gunicorn_process import KefuUnderGunicorn, free_port
from entrypoints.cli.push_simulator import Mode, PushSimulator
from entrypoints.sandbox.main import serve_sandbox
from entrypoints.sandbox.state import SandboxState
from tests.documents import CONTRACT_DOCUMENT
from tests.e2e.conftest import AES_KEY, APPID, APPSECRET, TOKEN
from tests.e2e.servers import gunicorn, healthy, kefu_settings
from tests.images import png
from tests.polling import wait_until

ACCESS_TOKEN = "sandbox-issued-access-token-0003"
RULES = {key: CONTRACT_DOCUMENT[key] for key in ("1", "3", "default")}


@dataclass
class Running:
    url: str
    sandbox: SandboxState
    kefu: KefuUnderGunicorn
    log: Path


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    (tmp_path / "media" / "cms").mkdir(parents=True)
    (tmp_path / "media" / "cms" / "poster02.png").write_bytes(png())
    (tmp_path / "rules.json").write_text(json.dumps(RULES, ensure_ascii=False), encoding="utf-8")
    state = SandboxState(new_id=lambda: ACCESS_TOKEN)
    with serve_sandbox("127.0.0.1", 0, APPID, APPSECRET, state) as sandbox:
        settings = kefu_settings(tmp_path, sandbox.url, KEFU_LOG_LEVEL="DEBUG")
        log = tmp_path / "kefu.log"
        with gunicorn(settings, log) as kefu:
            yield Running(kefu.url, state, kefu, log)


def test_signed_get_verification_and_an_encrypted_push_under_gunicorn(running: Running):
    timestamp, nonce = str(int(time.time())), "77"
    query = {"timestamp": timestamp, "nonce": nonce, "echostr": "echo4375120948345356249"}
    query["signature"] = signature(TOKEN, timestamp, nonce)
    verified = requests.get(f"{running.url}/wechat/callback", params=query, timeout=5)
    assert (verified.status_code, verified.content) == (200, b"echo4375120948345356249")
    assert verified.headers["X-Content-Type-Options"] == "nosniff"

    simulator = PushSimulator(TOKEN, APPID, AES_KEY)
    for text in ("3", "1", "what?"):
        push = simulator.build(simulator.text(text, "o_gunicorn"), PushFormat.XML, Mode.SAFE)
        answer = requests.post(
            f"{running.url}/wechat/callback", params=push.params, data=push.body, timeout=10
        )
        assert (answer.status_code, answer.text) == (200, "success")

    wait_until(lambda: len(running.sandbox.sent) == 3)
    calls = [(c.path, c.errcode) for c in running.sandbox.calls]
    assert ("/cgi-bin/media/upload", 0) in calls
    sends = [c for c in running.sandbox.calls if c.path.endswith("/custom/send")]
    assert [c.errcode for c in sends] == [0, 0, 0]


def test_no_secret_in_gunicorn_logs_at_debug(running: Running):
    simulator = PushSimulator(TOKEN, APPID, AES_KEY)
    push = simulator.build(simulator.text("3", "o_gunicorn"), PushFormat.JSON, Mode.SAFE)
    requests.post(f"{running.url}/wechat/callback", params=push.params, data=push.body, timeout=10)
    wait_until(lambda: running.sandbox.sent)
    running.kefu.stop()
    logs = running.log.read_text(encoding="utf-8")
    assert "/cgi-bin/media/upload" in logs  # urllib3 logged the request lines at DEBUG
    (access,) = [line for line in logs.splitlines() if '"POST /wechat/callback" 200' in line]
    push_id = re.search(r" push=([0-9a-f]{16})$", access)
    assert push_id is not None  # the access line names the push, as every line about it does
    assert all(
        line.endswith(f"push={push_id[1]}") for line in logs.splitlines() if "push from" in line
    )
    for secret in (ACCESS_TOKEN, APPSECRET, AES_KEY, TOKEN):
        assert secret not in logs


def test_a_worker_stops_its_resources_when_gunicorn_stops(running: Running):
    running.kefu.stop()
    assert "stopped: rules watcher and state store closed" in running.log.read_text("utf-8")


def test_kefu_serve_runs_the_service_under_gunicorn(tmp_path: Path):
    (tmp_path / "rules.json").write_text(json.dumps(RULES), encoding="utf-8")
    (tmp_path / "media").mkdir()
    port = free_port()
    env = {**os.environ, **kefu_settings(tmp_path, "http://127.0.0.1:9"), "PORT": str(port)}
    serve = subprocess.Popen(
        [sys.executable, "-m", "entrypoints.cli.main", "serve"],
        env={**env, "WEB_CONCURRENCY": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: healthy(f"http://127.0.0.1:{port}"), timeout=30, interval=0.1)
    finally:
        serve.send_signal(signal.SIGTERM)
        _, err = serve.communicate(timeout=30)
    assert "Booting worker" in err


def test_kefu_serve_stops_with_a_line_per_bad_setting(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEFU_")}
    result = subprocess.run(
        [sys.executable, "-m", "entrypoints.cli.main", "serve"],
        env={**env, "KEFU_TOKEN": "t", "KEFU_RULES_FILE": "r.json"},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert (
        result.stderr.strip() == "kefu: KEFU_APPID is missing: set it to the mini program's AppID"
    )
