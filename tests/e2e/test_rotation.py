"""Key and Token rotation end to end: kefu under gunicorn, WeChat played by the sandbox."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from adapters.state.disk import DiskStateStore
from adapters.state.scoped import ScopedStateStore
from adapters.wechat_push.crypto import AesMessageCrypto, signature
from adapters.wechat_push.fields import PushFormat
from adapters.wechat_push.previous_use import last_previous_use
from entrypoints.cli.push_simulator import Mode, PushSimulator
from entrypoints.sandbox.main import SandboxServer, serve_sandbox
from tests.e2e.conftest import AES_KEY, APPID, APPSECRET, TOKEN
from tests.e2e.servers import gunicorn, kefu_settings
from tests.polling import wait_until

NEW_TOKEN = "kefuRotatedToken2026"
NEW_KEY = "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut"
THIRD_KEY = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"
RULES = {"1": {"type": "text", "text": "one"}, "人工": {"type": "transfer"}}
OLD = PushSimulator(TOKEN, APPID, AES_KEY)  # what WeChat still uses for pushes in flight


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "media").mkdir()
    (tmp_path / "rules.json").write_text(json.dumps(RULES, ensure_ascii=False), "utf-8")
    return tmp_path


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with serve_sandbox("127.0.0.1", 0, APPID, APPSECRET) as server:
        yield server


def rotated(folder: Path, sandbox: SandboxServer, **extra: str) -> dict[str, str]:
    """The console now holds NEW_TOKEN and NEW_KEY; the old ones are kept as previous."""
    settings = kefu_settings(folder, sandbox.url, KEFU_TOKEN=NEW_TOKEN)
    return {**settings, "KEFU_ENCODING_AES_KEY": NEW_KEY, **extra}


def post(url: str, simulator: PushSimulator, text: str, fmt: PushFormat = PushFormat.JSON):
    push = simulator.build(simulator.text(text, "o_rotation"), fmt, Mode.SAFE)
    return requests.post(f"{url}/wechat/callback", params=push.params, data=push.body, timeout=10)


def test_old_pushes_are_answered_during_a_rotation_and_refused_after_it(folder, sandbox):
    previous = {"KEFU_TOKEN_PREVIOUS": TOKEN, "KEFU_ENCODING_AES_KEY_PREVIOUS": AES_KEY}
    log = folder / "kefu.log"
    with gunicorn(rotated(folder, sandbox, **previous), log, workers=1) as kefu:
        for simulator in (PushSimulator(NEW_TOKEN, APPID, NEW_KEY), OLD):
            answer = post(kefu.url, simulator, "1")
            assert (answer.status_code, answer.text) == (200, "success")
        third = post(kefu.url, PushSimulator(NEW_TOKEN, APPID, THIRD_KEY), "1")
        assert third.status_code in (400, 403)
    assert [m["text"] for m in sandbox.state.sent] == [{"content": "one"}] * 2
    lines = [line for line in log.read_text("utf-8").splitlines() if "_PREVIOUS" in line]
    assert len(lines) == 1
    assert "KEFU_TOKEN_PREVIOUS and KEFU_ENCODING_AES_KEY_PREVIOUS" in lines[0]
    store = DiskStateStore(folder / "state")
    use = last_previous_use(ScopedStateStore(store, scope=APPID))  # as the container scopes it
    store.close()
    assert use is not None and use.hours_ago(use.at) == 0

    with gunicorn(rotated(folder, sandbox), folder / "after.log", workers=1) as kefu:
        assert post(kefu.url, OLD, "1").status_code == 403
    assert len(sandbox.state.sent) == 2

    ended = rotated(folder, sandbox, **previous, KEFU_ROTATION_UNTIL="2026-01-01T00:00:00Z")
    with gunicorn(ended, folder / "ended.log", workers=1) as kefu:
        assert post(kefu.url, OLD, "1").status_code == 403  # still set, but past their end
        assert post(kefu.url, PushSimulator(NEW_TOKEN, APPID, NEW_KEY), "1").text == "success"
        wait_until(lambda: len(sandbox.state.sent) == 3)


@pytest.mark.parametrize("fmt", [PushFormat.JSON, PushFormat.XML])
def test_a_transfer_reply_is_sealed_with_the_previous_key_that_opened_the_push(
    folder, sandbox, fmt
):
    previous = {"KEFU_TOKEN_PREVIOUS": TOKEN, "KEFU_ENCODING_AES_KEY_PREVIOUS": AES_KEY}
    with gunicorn(rotated(folder, sandbox, **previous), folder / "kefu.log", workers=1) as kefu:
        answer = post(kefu.url, OLD, "人工", fmt)
    assert answer.status_code == 200
    if fmt is PushFormat.JSON:
        reply = json.loads(answer.text)
        encrypt, msg_signature = reply["Encrypt"], reply["MsgSignature"]
        timestamp, nonce = str(reply["TimeStamp"]), reply["Nonce"]
    else:
        encrypt = answer.text.split("<Encrypt><![CDATA[")[1].split("]]>")[0]
        msg_signature = answer.text.split("<MsgSignature><![CDATA[")[1].split("]]>")[0]
        timestamp = answer.text.split("<TimeStamp>")[1].split("<")[0]
        nonce = answer.text.split("<Nonce><![CDATA[")[1].split("]]>")[0]
    assert msg_signature == signature(TOKEN, timestamp, nonce, encrypt)
    plaintext = AesMessageCrypto(TOKEN, AES_KEY, APPID).decrypt(encrypt)
    assert "transfer_customer_service" in plaintext


def test_url_verification_accepts_the_previous_token_only_while_it_is_set(folder, sandbox):
    def verify(url: str, token: str) -> int:
        # Letters and digits only (kefu reflects nothing else), and a timestamp within 48 hours.
        timestamp = str(int(time.time()))
        query = {"timestamp": timestamp, "nonce": "2", "echostr": "echo1"}
        query["signature"] = signature(token, timestamp, "2")
        return requests.get(f"{url}/wechat/callback", params=query, timeout=5).status_code

    settings = rotated(folder, sandbox, KEFU_TOKEN_PREVIOUS=TOKEN, KEFU_MAX_CLOCK_SKEW="0")
    with gunicorn(settings, folder / "kefu.log", workers=1) as kefu:
        assert [verify(kefu.url, t) for t in (NEW_TOKEN, TOKEN, "x")] == [200, 200, 403]
    settings.pop("KEFU_TOKEN_PREVIOUS")
    with gunicorn(settings, folder / "after.log", workers=1) as kefu:
        assert [verify(kefu.url, t) for t in (NEW_TOKEN, TOKEN)] == [200, 403]
