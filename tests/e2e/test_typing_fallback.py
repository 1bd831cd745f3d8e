"""The typing indicator under gunicorn: business/typing first, custom/typing where it is missing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from adapters.wechat_push.fields import PushFormat
from entrypoints.cli.push_simulator import Mode, PushSimulator
from entrypoints.sandbox.main import serve_sandbox
from tests.e2e.conftest import AES_KEY, APPID, APPSECRET, TOKEN
from tests.e2e.servers import gunicorn, kefu_settings
from tests.images import png

BUSINESS, OLD = "/cgi-bin/message/custom/business/typing", "/cgi-bin/message/custom/typing"
RULES = {"3": {"type": "image", "url": "/cms/poster02.png"}}


@pytest.mark.parametrize("business_typing", [True, False])
def test_typing_uses_business_typing_or_falls_back_once_per_process(
    tmp_path: Path, business_typing
):
    (tmp_path / "media" / "cms").mkdir(parents=True)
    (tmp_path / "media" / "cms" / "poster02.png").write_bytes(png())
    (tmp_path / "rules.json").write_text(json.dumps(RULES), "utf-8")
    simulator = PushSimulator(TOKEN, APPID, AES_KEY)
    with serve_sandbox(
        "127.0.0.1", 0, APPID, APPSECRET, business_typing=business_typing
    ) as sandbox:
        settings = kefu_settings(tmp_path, sandbox.url)
        with gunicorn(settings, tmp_path / "kefu.log", workers=1) as kefu:
            for _ in range(3):
                push = simulator.build(simulator.text("3", "o_typing"), PushFormat.XML, Mode.SAFE)
                answer = requests.post(
                    f"{kefu.url}/wechat/callback", params=push.params, data=push.body, timeout=10
                )
                assert answer.status_code == 200
        typing = [(c.path, c.errcode) for c in sandbox.state.calls if c.path in (BUSINESS, OLD)]
        sends = [c.errcode for c in sandbox.state.calls if c.path.endswith("/custom/send")]
    if business_typing:
        assert typing == [(BUSINESS, 0)] * 3
    else:
        assert typing == [(BUSINESS, 48001), (OLD, 0), (OLD, 0), (OLD, 0)]
    assert sends == [0, 0, 0]
