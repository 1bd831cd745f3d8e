"""RequestsWeChatApi in API security mode against `responses`: what goes out, what is trusted."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import responses
from cryptography.hazmat.primitives.asymmetric import rsa

from adapters.wechat_api.api_keys import ApiKeys
from adapters.wechat_api.client import RequestsWeChatApi
from adapters.wechat_api.errors import UnverifiedAnswer
from adapters.wechat_api.security import ApiSecurity
from domain.errors import FailureKind
from domain.replies import MediaFile, TextReply
from entrypoints.sandbox.security import SandboxSecurity

BASE = "https://api.weixin.qq.com"
APPID, SECRET = "wx0123456789abcdef", "appsecret-5f2d9c0e7a1b"
AES = b"0123456789abcdef0123456789abcdef"
APP_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PLATFORM_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
WECHAT = SandboxSecurity(APPID, AES, "aes-sn", APP_KEY.public_key(), PLATFORM_KEY, "cert-sn")


@pytest.fixture
def wechat() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


def secured_api() -> RequestsWeChatApi:
    keys = ApiKeys(AES, "aes-sn", APP_KEY, "rsa-sn", PLATFORM_KEY.public_key(), "cert-sn")
    return RequestsWeChatApi(APPID, SECRET, base_url=BASE, security=ApiSecurity(APPID, keys))


def answering(answer: dict[str, Any], seen: list[dict[str, Any]], tamper: str | None = None):
    """A responses callback playing WeChat: checks the sealed call, answers sealed."""

    def callback(request: requests.PreparedRequest) -> tuple[int, dict[str, str], bytes]:
        url = str(request.url).split("?")[0]
        body = request.body if isinstance(request.body, bytes) else b""
        refused, params = WECHAT.open_request(url, request.headers, body)
        assert refused == 0, refused
        seen.append({"params": json.loads(params), "wire": body.decode()})
        sealed, headers = WECHAT.seal_answer(url, answer, tamper)
        return 200, headers, sealed

    return callback


def test_token_and_send_go_sealed_with_the_call_in_the_ciphertext_only(wechat):
    seen: list[dict[str, Any]] = []
    token = {"access_token": "TOKEN-A", "expires_in": 7200}
    wechat.add_callback("POST", f"{BASE}/cgi-bin/stable_token", answering(token, seen))
    send = {"errcode": 0, "errmsg": "ok"}
    wechat.add_callback("POST", f"{BASE}/cgi-bin/message/custom/send", answering(send, seen))
    secured_api().send("OPENID", TextReply("你好"))
    token_call, send_call = seen
    assert token_call["params"]["secret"] == SECRET and SECRET not in token_call["wire"]
    assert send_call["params"] == {
        "touser": "OPENID",
        "msgtype": "text",
        "text": {"content": "你好"},
    }
    assert "OPENID" not in send_call["wire"]
    assert send_call["wire"].startswith('{"iv":')


def test_the_upload_goes_as_before_because_the_mode_does_not_cover_it(wechat):
    token = {"access_token": "TOKEN-A", "expires_in": 7200}
    wechat.add_callback("POST", f"{BASE}/cgi-bin/stable_token", answering(token, []))
    uploaded = {"errcode": 0, "type": "image", "media_id": "M1", "created_at": 1}
    upload = wechat.post(f"{BASE}/cgi-bin/media/upload", json=uploaded)
    assert secured_api().upload_image(MediaFile("a.png", "image/png", b"\x89PNG")) == "M1"
    assert "Wechatmp-Signature" not in upload.calls[0].request.headers


@pytest.mark.parametrize("tamper", ["data", "signature", "certificate"])
def test_a_tampered_answer_is_refused_not_taken_for_success(wechat, tamper):
    token = {"access_token": "TOKEN-A", "expires_in": 7200}
    wechat.add_callback("POST", f"{BASE}/cgi-bin/stable_token", answering(token, []))
    ok = {"errcode": 0, "errmsg": "ok"}
    wechat.add_callback("POST", f"{BASE}/cgi-bin/message/custom/send", answering(ok, [], tamper))
    with pytest.raises(UnverifiedAnswer) as refused:
        secured_api().send("OPENID", TextReply("hi"))
    assert not refused.value.transient


def test_an_unsigned_refusal_of_the_token_is_retried_later_not_taken_as_wechats(wechat):
    wechat.post(f"{BASE}/cgi-bin/stable_token", json={"errcode": 40234, "errmsg": "bad sign"})
    with pytest.raises(UnverifiedAnswer, match="claims errcode 40234") as refused:
        secured_api().send("OPENID", TextReply("hi"))
    assert refused.value.kind is FailureKind.OPERATOR  # retried until the deadline


def token_then(wechat: responses.RequestsMock, send: Any) -> RequestsWeChatApi:
    token = {"access_token": "TOKEN-A", "expires_in": 7200}
    wechat.add_callback("POST", f"{BASE}/cgi-bin/stable_token", answering(token, []))
    wechat.add_callback("POST", f"{BASE}/cgi-bin/message/custom/send", send)
    return secured_api()


@pytest.mark.parametrize("errcode", [45015, 45047, 40003, 0])
def test_an_unsigned_answer_to_a_send_is_uncertain_never_a_verdict(wechat, errcode):
    forged = json.dumps({"errcode": errcode, "errmsg": "forged"}).encode()
    api = token_then(wechat, lambda request: (200, {}, forged))
    with pytest.raises(UnverifiedAnswer) as refused:
        api.send("OPENID", TextReply("hi"))
    assert refused.value.kind is FailureKind.UNCERTAIN  # recorded, not sent again, no dead letter


def test_an_unsigned_40001_drops_no_token(wechat):
    forged = b'{"errcode":40001,"errmsg":"invalid credential"}'
    api = token_then(wechat, lambda request: (200, {}, forged))
    for _ in range(2):
        with pytest.raises(UnverifiedAnswer):
            api.send("OPENID", TextReply("hi"))
    assert [str(c.request.url).split("?")[0].rsplit("/", 1)[-1] for c in wechat.calls] == [
        "stable_token",
        "send",
        "send",
    ]


def test_a_signed_success_replayed_for_another_send_is_refused(wechat):
    captured: list[tuple[int, dict[str, str], bytes]] = []
    genuine = answering({"errcode": 0, "errmsg": "ok"}, [])

    def first_genuine_then_replayed(request: requests.PreparedRequest) -> Any:
        if not captured:
            captured.append(genuine(request))
        return captured[0]

    api = token_then(wechat, first_genuine_then_replayed)
    api.send("OPENID", TextReply("first"))
    with pytest.raises(UnverifiedAnswer, match="replayed") as refused:
        api.send("OPENID", TextReply("second"))
    assert refused.value.kind is FailureKind.UNCERTAIN
