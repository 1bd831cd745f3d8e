"""The preview's HTTP surface through falcon.testing: loopback names only, strict headers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import falcon.testing
import pytest

from entrypoints.preview.main import build_preview
from entrypoints.service.settings import Settings
from tests.e2e.browser import CHROMEDRIVER, INSTALL, require_chromium
from tests.e2e.conftest import APPID, TOKEN


@pytest.fixture(params=[True])
def client(request, tmp_path: Path) -> Iterator[falcon.testing.TestClient]:
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"default": {"type": "text", "text": "再见"}}), "utf-8")
    settings = Settings(
        token=TOKEN,
        appid=APPID,
        rules_file=rules,
        media_root=tmp_path,
        state_dir=tmp_path / "state",
        wechat_api_base="http://127.0.0.1:9",
        stats=request.param,
    )
    yield falcon.testing.TestClient(build_preview(settings), headers={"Host": "127.0.0.1:8700"})


def test_a_request_naming_another_host_is_refused(client):
    assert client.simulate_get("/", headers={"Host": "attacker.example:8700"}).status_code == 403
    assert client.simulate_get("/", headers={"Host": "localhost:8700"}).status_code == 200


def test_the_page_may_load_and_run_only_its_own_files(client):
    page = client.simulate_get("/")
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "script-src 'self'" in policy
    assert "img-src 'self'" in policy
    assert "<script" not in page.text.replace('<script src="/static/preview.js">', "")


def test_a_chat_turn_needs_a_text_or_entering(client):
    assert client.simulate_post("/api/chat", json={"text": 1}).status_code == 400
    assert client.simulate_post("/api/chat", json={"text": "x" * 2049}).status_code == 400
    turn = client.simulate_post("/api/chat", json={"text": "你好"}).json
    assert (turn["rule"], turn["replies"]) == ("default", [{"kind": "text", "text": "再见"}])


def test_unknown_files_and_pictures_are_not_found(client):
    assert client.simulate_get("/static/../main.py").status_code == 404
    assert client.simulate_get("/media/preview-99").status_code == 404


def test_without_chromium_the_browser_tests_fail_saying_how_to_install_it(tmp_path: Path):
    with pytest.raises(pytest.fail.Exception) as failed:
        require_chromium(str(tmp_path / "chromium"), CHROMEDRIVER)
    assert str(failed.value) == INSTALL
    assert INSTALL.count("\n") == 0
    assert "apt-get install -y chromium chromium-driver" in INSTALL


@pytest.mark.parametrize("client", [False], indirect=True)
def test_with_stats_off_the_panel_says_so(client):
    assert client.simulate_get("/api/stats").json == {"enabled": False, "days": []}
