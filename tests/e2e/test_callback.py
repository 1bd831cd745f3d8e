"""A genuine push in, the right keyword reply out: the contract's example rules end to end."""

from __future__ import annotations

import time

import pytest

from adapters.wechat_push.crypto import signature
from adapters.wechat_push.fields import PushFormat
from entrypoints.cli.push_simulator import Mode
from tests.documents import CONTRACT_LINK_SEND
from tests.e2e.conftest import POSTER_URL, TOKEN

FORMATS = [PushFormat.JSON, PushFormat.XML]
ENCRYPTED = [Mode.SAFE, Mode.COMPATIBLE]


def link_send() -> dict[str, object]:
    return {
        "touser": "o_user_1",
        "msgtype": "link",
        "link": CONTRACT_LINK_SEND,
    }


IMAGE_SEND = {"touser": "o_user_1", "msgtype": "image", "image": {"media_id": "MEDIA_1"}}
DEFAULT_SEND = {"touser": "o_user_1", "msgtype": "text", "text": {"content": "再见"}}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("mode", ENCRYPTED)
def test_keyword_1_sends_exactly_the_link_card(service, fmt, mode):
    result = service.push("1", fmt, mode)
    assert (result.status_code, result.text) == (200, "success")
    assert service.sent() == [link_send()]
    assert service.calls("/cgi-bin/media/upload") == []


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("mode", ENCRYPTED)
def test_keyword_2_downloads_uploads_and_sends_the_poster(service, fmt, mode):
    result = service.push("2", fmt, mode)
    assert (result.status_code, result.text) == (200, "success")
    downloads = [c for c in service.wechat.calls if c.request.url == POSTER_URL]
    (upload,) = service.calls("/cgi-bin/media/upload")
    assert len(downloads) == 1
    assert b'name="media"; filename="poster.jpg"' in upload.request.body
    assert service.sent() == [IMAGE_SEND]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("mode", ENCRYPTED)
def test_keyword_3_uploads_the_file_under_the_media_root(service, fmt, mode, media_root):
    result = service.push("3", fmt, mode)
    assert (result.status_code, result.text) == (200, "success")
    (upload,) = service.calls("/cgi-bin/media/upload")
    assert (media_root / "cms" / "poster02.png").read_bytes() in upload.request.body
    assert "type=image" in upload.request.url
    assert service.sent() == [IMAGE_SEND]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("mode", ENCRYPTED)
def test_unknown_text_gets_the_default_text(service, fmt, mode):
    result = service.push("hello", fmt, mode)
    assert (result.status_code, result.text) == (200, "success")
    assert service.sent() == [DEFAULT_SEND]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    ("text", "expected"),
    [("1", [link_send()]), ("3", [IMAGE_SEND]), ("hello", [DEFAULT_SEND])],
)
def test_plaintext_mode_without_a_key_answers_the_same(plaintext_service, fmt, text, expected):
    result = plaintext_service.push(text, fmt, Mode.PLAINTEXT)
    assert (result.status_code, result.text) == (200, "success")
    assert plaintext_service.sent() == expected


def test_send_body_is_raw_utf8_without_escapes(service):
    service.push("hello")
    (call,) = service.calls("/cgi-bin/message/custom/send")
    assert "再见".encode() in call.request.body
    assert b"\\u" not in call.request.body


def test_access_token_is_fetched_once_for_many_pushes(service):
    for text in ("1", "hello", "3", "1"):
        service.push(text)
    assert len(service.calls("/cgi-bin/stable_token")) == 1
    assert len(service.sent()) == 4


def test_url_verification_echoes_echostr_raw(service):
    now = str(int(time.time()))
    params = {"timestamp": now, "nonce": "1514711492", "echostr": "4375120948345356249"}
    params["signature"] = signature(TOKEN, params["timestamp"], params["nonce"])
    result = service.client.simulate_get(service.settings.callback_path, params=params)
    assert result.status_code == 200
    assert result.content == b"4375120948345356249"
    assert result.headers["content-type"].startswith("text/plain")


def test_url_verification_with_a_wrong_signature_is_forbidden(service):
    now = str(int(time.time()))
    params = {"timestamp": now, "nonce": "2", "echostr": "3", "signature": "0" * 40}
    result = service.client.simulate_get(service.settings.callback_path, params=params)
    assert result.status_code == 403
    assert "3" not in result.text.split()


def test_health_check_answers_ok(service):
    assert service.client.simulate_get("/healthz").status_code == 200
