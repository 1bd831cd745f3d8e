"""A rule pattern written to backtrack forever cannot hold a gunicorn worker (RE2)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import requests

from adapters.wechat_push.fields import PushFormat
from entrypoints.cli.push_simulator import Mode, PushSimulator
from entrypoints.sandbox.main import serve_sandbox
from entrypoints.sandbox.state import SandboxState
from tests.e2e.conftest import AES_KEY, APPID, APPSECRET, TOKEN
from tests.e2e.servers import gunicorn, kefu_settings

RULES = {
    "re:^(a+)+$": {"type": "text", "text": "only a"},
    "default": {"type": "text", "text": "默认回复"},
}


def test_the_reviews_redos_message_is_answered_at_once_and_the_worker_stays_healthy(
    tmp_path: Path,
):
    (tmp_path / "media").mkdir()
    (tmp_path / "rules.json").write_text(json.dumps(RULES, ensure_ascii=False), encoding="utf-8")
    simulator = PushSimulator(TOKEN, APPID, AES_KEY)
    with (
        serve_sandbox("127.0.0.1", 0, APPID, APPSECRET, SandboxState()) as sandbox,
        gunicorn(kefu_settings(tmp_path, sandbox.url), tmp_path / "kefu.log", workers=1) as kefu,
    ):
        hostile = "a" * 40 + "!"  # 41 characters: Python's re backtracks for minutes on it
        push = simulator.build(simulator.text(hostile, "o_redos"), PushFormat.JSON, Mode.SAFE)
        started = time.monotonic()
        answer = requests.post(
            f"{kefu.url}/wechat/callback", params=push.params, data=push.body, timeout=5
        )
        took = time.monotonic() - started
        assert (answer.status_code, answer.text) == (200, "success")
        assert took < 1.0
        health = [requests.get(f"{kefu.url}/healthz", timeout=2).status_code for _ in range(5)]
        assert health == [200] * 5
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not _sends(sandbox.state):
            time.sleep(0.05)
        assert _sends(sandbox.state) == ["默认回复"]


def _sends(state: SandboxState) -> list[str]:
    sends = [c.body for c in state.calls if c.path.endswith("/custom/send")]
    return [str(body.get("text", {}).get("content")) for body in sends]  # type: ignore[attr-defined]
