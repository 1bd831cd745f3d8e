"""KEFU_RULES_HEADERS_FILE: headers sent with every CMS request, never logged, checked at start."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import responses
from responses import matchers

from entrypoints.service.container import RulesContainer
from entrypoints.service.settings import RulesSettings, Settings, SettingsError
from tests.documents import CONTRACT_DOCUMENT

URL = "http://127.0.0.1:8999/cms/rules"
TOKEN = "Bearer s3cret-cms-token"
BODY = json.dumps(CONTRACT_DOCUMENT)


@pytest.fixture
def cms() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


def env_with(tmp_path: Path, text: str) -> dict[str, str]:
    headers = tmp_path / "cms.headers"
    headers.write_text(text)
    return {
        "KEFU_TOKEN": "tok",
        "KEFU_APPID": "wx1",
        "KEFU_RULES_URL": URL,
        "KEFU_RULES_HEADERS_FILE": str(headers),
        "KEFU_STATE_DIR": str(tmp_path / "state"),
    }


def cms_source(env: dict[str, str]):
    return RulesContainer(settings=RulesSettings.from_env(env)).source()


def test_the_file_s_headers_go_with_every_cms_request(cms, tmp_path):
    env = env_with(tmp_path, f"# for the CMS\nAuthorization: {TOKEN}\n\nX-Tenant: kefu-prod\n")
    sent = matchers.header_matcher({"Authorization": TOKEN, "X-Tenant": "kefu-prod"})
    cms.get(URL, body=BODY, match=[sent])
    cms.get(URL, body=BODY, match=[sent])
    source = cms_source(env)
    source.load(wait=True)
    assert source.current().match_text("1") is not None
    source.check()
    assert len(cms.calls) == 2


def test_the_header_values_are_never_logged(cms, tmp_path, caplog):
    env = env_with(tmp_path, f"Authorization: {TOKEN}\n")
    cms.get(URL, status=500)
    caplog.set_level(logging.DEBUG)
    cms_source(env).load(wait=True)  # fails, and says so in the log
    assert "HTTP 500" in caplog.text
    assert "s3cret" not in caplog.text
    assert "s3cret" not in repr(RulesSettings.from_env(env))


def test_header_values_are_redacted_like_every_secret(tmp_path):
    settings = Settings.from_env(env_with(tmp_path, f"Authorization: {TOKEN}\n"))
    assert TOKEN in settings.secrets
    assert "s3cret" not in repr(settings)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "Authorization: ok\nno colon here s3cret\n",
            "line 2 is malformed: expected `Name: value`",
        ),
        ("Bad Name: s3cret\n", "line 1 is malformed: expected `Name: value`"),
        ("X-Empty:\n", "line 1 is malformed: expected `Name: value`"),
        ("X-A: s3cret\u0085\n", "line 1 is malformed: expected `Name: value`"),
        ("X-A: 1\nx-a: s3cret\n", "line 2 repeats the header x-a"),
        ("Host: s3cret.example\n", "line 1: kefu sets Host itself; remove the line"),
        *(
            (f"{name}: s3cret\n", f"line 1: kefu sets {name} itself; remove the line")
            for name in (
                "If-None-Match",
                "If-Modified-Since",
                "Content-Length",
                "Transfer-Encoding",
                "Connection",
                "Accept-Encoding",
            )
        ),
    ],
)
def test_a_bad_line_stops_start_up_naming_the_variable_and_line_only(tmp_path, text, problem):
    with pytest.raises(SettingsError) as bad:
        Settings.from_env(env_with(tmp_path, text))
    assert bad.value.problems == [f"KEFU_RULES_HEADERS_FILE {problem}"]
    assert "s3cret" not in str(bad.value)


def test_a_missing_headers_file_stops_start_up(tmp_path):
    env = {**env_with(tmp_path, ""), "KEFU_RULES_HEADERS_FILE": str(tmp_path / "absent")}
    with pytest.raises(SettingsError) as bad:
        Settings.from_env(env)
    missing = f"KEFU_RULES_HEADERS_FILE {tmp_path / 'absent'} cannot be read: No such file"
    assert bad.value.problems == [f"{missing} or directory"]
