"""KEFU_LOG_FORMAT=json under real gunicorn: every line JSON, push ids, no secret or openid."""

from __future__ import annotations

import json

import requests

from adapters.logs.push_context import push_id_for, short_openid
from adapters.wechat_push.fields import PushFormat
from entrypoints.cli.push_simulator import Mode, PushSimulator
from entrypoints.sandbox.main import serve_sandbox
from entrypoints.sandbox.state import SandboxState
from tests.documents import CONTRACT_DOCUMENT
from tests.e2e.conftest import AES_KEY, APPID, APPSECRET, TOKEN
from tests.e2e.servers import gunicorn, kefu_settings
from tests.images import png

ACCESS_TOKEN = "sandbox-issued-access-token-json-0004"
OPENID = "oJsonLogs0123456789abcdefghi"  # 28 characters, as WeChat's are


def test_every_line_is_json_lines_about_a_push_carry_its_id_and_no_secret_or_openid(tmp_path):
    (tmp_path / "media" / "cms").mkdir(parents=True)
    (tmp_path / "media" / "cms" / "poster02.png").write_bytes(png())
    rules = {key: CONTRACT_DOCUMENT[key] for key in ("1", "3", "default")}
    (tmp_path / "rules.json").write_text(json.dumps(rules), encoding="utf-8")
    state = SandboxState(new_id=lambda: ACCESS_TOKEN)
    simulator = PushSimulator(TOKEN, APPID, AES_KEY)
    fields = simulator.text("3", OPENID, msg_id=24680135791113)
    push = simulator.build(fields, PushFormat.JSON, Mode.SAFE)
    log = tmp_path / "kefu.log"
    with serve_sandbox("127.0.0.1", 0, APPID, APPSECRET, state) as sandbox:
        settings = kefu_settings(
            tmp_path, sandbox.url, KEFU_LOG_LEVEL="DEBUG", KEFU_LOG_FORMAT="json"
        )
        with gunicorn(settings, log) as kefu:
            url = f"{kefu.url}/wechat/callback"
            answer = requests.post(url, params=push.params, data=push.body, timeout=10)
            assert (answer.status_code, answer.text) == (200, "success")
            requests.post(url, params={"signature": "forged"}, data=b"{}", timeout=10)
    text = log.read_text(encoding="utf-8")
    lines = [json.loads(line) for line in text.splitlines()]  # every line parses
    assert {"time", "level", "logger", "message", "push_id"} <= set(lines[0])
    loggers = {line["logger"] for line in lines}
    assert {"gunicorn.error", "gunicorn.access", "urllib3.connectionpool"} <= loggers
    push_id = push_id_for(f"msg:24680135791113:{OPENID}:{fields['CreateTime']}")
    (received,) = [line for line in lines if line["message"].startswith("push from")]
    assert received["push_id"] == push_id
    assert received["message"] == f"push from {short_openid(OPENID)}: TextMessage"
    calls_to_wechat = [
        line
        for line in lines
        if line["logger"] == "urllib3.connectionpool" and "POST" in line["message"]
    ]
    assert calls_to_wechat and {line["push_id"] for line in calls_to_wechat} == {push_id}
    access = [line for line in lines if line["logger"] == "gunicorn.access"]
    pushes = [line for line in access if (line["method"], line["status"]) == ("POST", "200")]
    assert [line["push_id"] for line in pushes] == [push_id]
    assert {(line["method"], line["status"]) for line in access} >= {
        ("POST", "200"),
        ("POST", "403"),
    }
    for secret in (ACCESS_TOKEN, APPSECRET, AES_KEY, TOKEN, OPENID):
        assert secret not in text
