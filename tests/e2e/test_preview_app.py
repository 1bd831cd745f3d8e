"""The preview's HTTP surface through falcon.testing: well-formed loopback names only, the
access token off loopback, a JSON API for its own page only, strict headers."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from pathlib import Path

import falcon.testing
import pytest

from entrypoints.cli.main import main
from entrypoints.preview.main import build_preview
from entrypoints.preview.settings import PreviewSettings, preview_settings
from entrypoints.preview.texts import TEXTS
from entrypoints.service.settings import Settings
from tests.e2e.browser import CHROMEDRIVER, INSTALL, require_chromium
from tests.e2e.conftest import APPID, TOKEN

HOST = "127.0.0.1:8700"
SAME_ORIGIN = {"Host": HOST, "Origin": f"http://{HOST}"}
# What a person reads of a tag: its title, placeholder and label.
LABELS = r'(?:title|placeholder|aria-label)="([^"]*)"'
ACCESS = "a-long-enough-access-token"


def settings_for(tmp_path: Path, stats: bool = True) -> Settings:
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"default": {"type": "text", "text": "再见"}}), "utf-8")
    return Settings(
        token=TOKEN,
        appid=APPID,
        rules_file=rules,
        media_root=tmp_path,
        state_dir=tmp_path / "state",
        wechat_api_base="http://127.0.0.1:9",
        stats=stats,
    )


@pytest.fixture(params=[True])
def client(request, tmp_path: Path) -> Iterator[falcon.testing.TestClient]:
    app = build_preview(PreviewSettings(settings_for(tmp_path, request.param), True))
    yield falcon.testing.TestClient(app, headers=SAME_ORIGIN)


@pytest.fixture
def guarded(tmp_path: Path) -> falcon.testing.TestClient:
    """The preview as ops host it for editors: any Host name, and the access token."""
    app = build_preview(PreviewSettings(settings_for(tmp_path), True), ACCESS)
    return falcon.testing.TestClient(app, headers={"Host": "preview.corp.example"})


def test_a_request_naming_another_host_is_refused(client):
    assert client.simulate_get("/", headers={"Host": "attacker.example:8700"}).status_code == 403
    assert client.simulate_get("/", headers={"Host": "localhost:8700"}).status_code == 200
    assert client.simulate_get("/", headers={"Host": "[::1]:8700"}).status_code == 200
    assert client.simulate_get("/", headers={"Host": "[::2]:8700"}).status_code == 403


@pytest.mark.parametrize("host", ["127.0.0.1:evil", "127.0.0.1:99999", "a b", "", "x/y"])
def test_a_malformed_host_header_is_a_bad_request_not_a_crash(client, host):
    assert client.simulate_get("/", headers={"Host": host}).status_code == 400
    assert (
        client.simulate_post("/api/chat", json={"text": "1"}, headers={"Host": host}).status_code
        == 400
    )


def test_the_page_is_chinese_by_default_and_english_when_asked(client):
    chinese = client.simulate_get("/").text
    assert '<html lang="zh-CN">' in chinese
    assert "<title>kefu 预览</title>" in chinese and ">发送</button>" in chinese
    shown = re.sub(r"<[^>]*>", "\n", chinese) + "\n".join(re.findall(LABELS, chinese))
    english_only = set(TEXTS["en"].values()) - set(TEXTS["zh-CN"].values())
    assert [text for text in english_only if html.escape(text) in shown.splitlines()] == []
    english = client.simulate_get("/", params={"lang": "en"}).text
    assert '<html lang="en">' in english and ">Send</button>" in english


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


@pytest.mark.parametrize(
    "origin",
    [None, "http://attacker.example", "http://127.0.0.1:8701", "null"],
    ids=["no Origin", "another site", "another port", "sandboxed frame"],
)
def test_the_api_refuses_a_post_from_any_other_origin(client, origin):
    headers = {"Host": HOST, **({"Origin": origin} if origin else {})}
    refused = falcon.testing.TestClient(client.app).simulate_post(
        "/api/chat", json={"text": "1"}, headers=headers
    )
    assert refused.status_code == 403


def test_the_api_refuses_a_form_post_even_from_its_own_origin(client):
    for kind in ("application/x-www-form-urlencoded", "text/plain", "multipart/form-data"):
        form = client.simulate_post(
            "/api/chat", body='{"text": "1"}', headers={**SAME_ORIGIN, "Content-Type": kind}
        )
        assert form.status_code == 415, kind


def test_off_loopback_every_request_needs_the_access_token(guarded):
    for path in ("/", "/static/preview.js", "/api/report", "/api/stats", "/media/preview-1"):
        assert guarded.simulate_get(path).status_code == 401, path
    wrong = guarded.simulate_get("/", params={"token": ACCESS[:-1] + "X"})
    assert wrong.status_code == 401
    linked = guarded.simulate_get("/", params={"token": ACCESS, "lang": "en"})
    assert (linked.status_code, linked.headers["location"]) == (303, "/?lang=en")
    cookie = linked.cookies["kefu_preview"]
    assert (cookie.value, cookie.http_only, cookie.same_site) == (ACCESS, True, "Strict")
    with_cookie = {"Cookie": f"kefu_preview={ACCESS}"}
    assert guarded.simulate_get("/", headers=with_cookie).status_code == 200
    origin = {**with_cookie, "Origin": "https://preview.corp.example"}
    turn = guarded.simulate_post("/api/chat", json={"text": "1"}, headers=origin)
    assert turn.status_code == 200
    assert (
        guarded.simulate_post(
            "/api/chat", json={"text": "1"}, headers={"Origin": "https://preview.corp.example"}
        ).status_code
        == 401
    )


def test_off_loopback_without_a_token_the_preview_refuses_to_start(capsys, tmp_path: Path):
    draft = tmp_path / "draft.json"
    draft.write_text("{}", encoding="utf-8")
    assert main(["preview", "--host", "0.0.0.0", "--rules", str(draft)]) == 2
    err = capsys.readouterr().err
    assert err == (
        "kefu preview: --host 0.0.0.0 is not loopback: the page then needs an access token "
        "(--token-file FILE or KEFU_PREVIEW_TOKEN)\n"
    )
    (tmp_path / "short").write_text("abc\n", encoding="utf-8")
    assert main(["preview", "--host", "0.0.0.0", "--token-file", str(tmp_path / "short")]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_a_draft_needs_none_of_the_services_settings(tmp_path: Path):
    draft = tmp_path / "draft.json"
    draft.write_text(json.dumps({"1": {"type": "text", "text": "草稿"}}), encoding="utf-8")
    found = preview_settings({"KEFU_RULES_URL": "https://cms.example/rules"}, draft)
    assert found.settings.rules_file == draft and found.settings.rules_url is None
    assert found.service_stats is False
    client = falcon.testing.TestClient(build_preview(found), headers=SAME_ORIGIN)
    turn = client.simulate_post("/api/chat", json={"text": "1"}).json
    assert turn["replies"] == [{"kind": "text", "text": "草稿"}]
    assert client.simulate_get("/api/stats").json == {"enabled": False, "why": "unset", "days": []}


def test_unknown_files_and_pictures_are_not_found(client):
    assert client.simulate_get("/static/../main.py").status_code == 404
    assert client.simulate_get("/static/index.html").status_code == 404
    assert client.simulate_get("/media/preview-99").status_code == 404


def test_without_chromium_the_browser_tests_fail_saying_how_to_install_it(tmp_path: Path):
    with pytest.raises(pytest.fail.Exception) as failed:
        require_chromium(str(tmp_path / "chromium"), CHROMEDRIVER)
    assert str(failed.value) == INSTALL
    assert INSTALL.count("\n") == 0
    assert "apt-get install -y chromium chromium-driver" in INSTALL


@pytest.mark.parametrize("client", [False], indirect=True)
def test_with_stats_off_the_panel_says_so(client):
    assert client.simulate_get("/api/stats").json == {"enabled": False, "why": "off", "days": []}
