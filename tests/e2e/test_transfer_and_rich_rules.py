"""The contract's richer rules end to end: hand-over, welcome, lists, cards and patterns."""

from __future__ import annotations

import json
import re
import time
from dataclasses import replace
from pathlib import Path

import pytest
import responses

from adapters.wechat_push.crypto import AesMessageCrypto, signature
from adapters.wechat_push.envelope import parse_envelope
from adapters.wechat_push.fields import PushFormat
from entrypoints.cli.push_simulator import APP_ORIGINAL_ID, Mode
from tests.e2e.conftest import AES_KEY, APPID, TOKEN, mock_wechat, running_service
from tests.images import png

ROOT = Path(__file__).resolve().parents[2]
RICH = json.loads((ROOT / "config" / "rules.rich.example.json").read_text("utf-8"))
VECTORS = json.loads((ROOT / "tests" / "fixtures" / "wechat_vectors.json").read_text("utf-8"))
V4_REPLY = next(v for v in VECTORS if v["id"] == "V4")["reply_json"]
# The XML counterpart of V4's envelope (reference section 5): CDATA text, a bare TimeStamp.
XML_ENVELOPE = re.compile(
    r"<xml><Encrypt><!\[CDATA\[([A-Za-z0-9+/=]+)\]\]></Encrypt>"
    r"<MsgSignature><!\[CDATA\[([0-9a-f]{40})\]\]></MsgSignature>"
    r"<TimeStamp>([0-9]+)</TimeStamp><Nonce><!\[CDATA\[([0-9]+)\]\]></Nonce></xml>"
)
FORMATS = [PushFormat.JSON, PushFormat.XML]
ENCRYPTED = [Mode.SAFE, Mode.COMPATIBLE]
CONTENT_TYPES = {PushFormat.JSON: "application/json", PushFormat.XML: "application/xml"}
USER = "o_user_1"
THUMB = png(4, 4, (30, 120, 200))


@pytest.fixture
def rich_media(media_root: Path) -> Path:
    (media_root / "cms" / "event-thumb.png").write_bytes(THUMB)
    return media_root


@pytest.fixture
def rich(settings, rich_media):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        mock_wechat(rsps, RICH)
        with running_service(settings, rsps) as service:
            yield service


@pytest.fixture
def rich_plaintext(settings, rich_media):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        mock_wechat(rsps, RICH)
        with running_service(replace(settings, encoding_aes_key=None), rsps) as service:
            yield service


def text_send(content: str) -> dict[str, object]:
    return {"touser": USER, "msgtype": "text", "text": {"content": content}}


def envelope_of(body: str, fmt: PushFormat) -> tuple[str, str, int, str]:
    """Encrypt, MsgSignature, TimeStamp and Nonce, after checking the envelope's exact shape."""
    if fmt is PushFormat.JSON:
        fields = json.loads(body)
        assert list(fields) == list(V4_REPLY)
        assert [type(fields[k]) for k in fields] == [type(V4_REPLY[k]) for k in V4_REPLY]
        return fields["Encrypt"], fields["MsgSignature"], fields["TimeStamp"], fields["Nonce"]
    found = XML_ENVELOPE.fullmatch(body)
    assert found is not None, body
    encrypt, msg_signature, timestamp, nonce = found.groups()
    return encrypt, msg_signature, int(timestamp), nonce


def assert_transfer(fields: dict[str, object]) -> None:
    assert fields["ToUserName"] == USER
    assert fields["FromUserName"] == APP_ORIGINAL_ID
    assert fields["MsgType"] == "transfer_customer_service"
    assert abs(int(str(fields["CreateTime"])) - time.time()) < 60
    assert "Encrypt" not in fields


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("mode", ENCRYPTED)
def test_transfer_answers_the_encrypted_passive_reply_in_the_push_format(rich, fmt, mode):
    push = rich.simulator.build(rich.simulator.text("人工", USER), fmt, mode)
    result = rich.send(push)
    assert result.status_code == 200
    assert result.headers["content-type"].startswith(CONTENT_TYPES[fmt])
    encrypt, msg_signature, timestamp, nonce = envelope_of(result.text, fmt)
    assert nonce == push.params["nonce"]
    assert msg_signature == signature(TOKEN, str(timestamp), nonce, encrypt)
    assert abs(timestamp - time.time()) < 60
    plaintext = AesMessageCrypto(TOKEN, AES_KEY, APPID).decrypt(encrypt)
    inner = parse_envelope(plaintext.encode())
    assert inner.format is fmt
    assert_transfer(dict(inner.fields))
    assert rich.sent() == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_transfer_in_plaintext_mode_answers_the_plain_passive_reply(rich_plaintext, fmt):
    result = rich_plaintext.push("人工", fmt, Mode.PLAINTEXT)
    assert result.status_code == 200
    assert result.headers["content-type"].startswith(CONTENT_TYPES[fmt])
    reply = parse_envelope(result.content)
    assert reply.format is fmt
    assert_transfer(dict(reply.fields))
    assert rich_plaintext.sent() == []


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("mode", ENCRYPTED)
def test_entering_the_chat_sends_the_welcome(rich, fmt, mode):
    result = rich.send(rich.simulator.build(rich.simulator.enter(USER), fmt, mode))
    assert (result.status_code, result.text) == (200, "success")
    assert rich.sent() == [text_send(RICH["@enter"]["text"])]


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_list_of_two_replies_sends_both_in_order(rich, fmt):
    result = rich.push("1", fmt)
    assert (result.status_code, result.text) == (200, "success")
    link = {k: v for k, v in RICH["1"][1].items() if k != "type"}
    assert rich.sent() == [
        text_send("点击下方卡片下载 APP"),
        {"touser": USER, "msgtype": "link", "link": link},
    ]


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_mini_program_card_uploads_its_thumb_and_sends_the_media_id(rich, fmt):
    result = rich.push("活动", fmt)
    assert (result.status_code, result.text) == (200, "success")
    (upload,) = rich.calls("/cgi-bin/media/upload")
    assert THUMB in upload.request.body
    assert b'filename="event-thumb.png"' in upload.request.body
    card = {"title": "本月活动", "pagepath": "pages/event/index?id=42", "thumb_media_id": "MEDIA_1"}
    assert rich.sent() == [{"touser": USER, "msgtype": "miniprogrampage", "miniprogrampage": card}]


@pytest.mark.parametrize("typed", ["怎么下载", "安装 失败了", "ＡＰＰ下载"])
def test_text_containing_a_pattern_gets_its_reply(rich, typed):
    assert rich.push(typed).text == "success"
    assert rich.sent() == [text_send("回复 1 获取下载链接")]


def test_an_image_named_by_imageurl_is_downloaded_and_sent(rich):
    rich.push("2")
    assert len(rich.calls("/cgi-bin/media/upload")) == 1
    assert rich.sent() == [{"touser": USER, "msgtype": "image", "image": {"media_id": "MEDIA_1"}}]


def test_anything_else_still_gets_the_default(rich):
    rich.push("你好")
    assert rich.sent() == [text_send("再见")]
