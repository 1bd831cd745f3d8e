"""Pushes kefu does not act on are answered `success` and send nothing, whatever their shape."""

from __future__ import annotations

import time

import pytest

from adapters.wechat_push.crypto import AesMessageCrypto, signature
from adapters.wechat_push.encoding import encode_envelope
from adapters.wechat_push.fields import PushFormat
from tests.e2e.conftest import APPID, TOKEN


def express_path_event() -> str:
    """WxJava's add_express_path fixture shape: two sibling <Actions> at the top level."""
    action = (
        "<Actions><ActionTime>{t}</ActionTime><ActionType>{kind}</ActionType>"
        "<ActionMsg><![CDATA[{msg}]]></ActionMsg></Actions>"
    )
    return (
        "<xml><ToUserName><![CDATA[gh_kefu_simulated]]></ToUserName>"
        "<FromUserName><![CDATA[o_logistics_system]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime>"
        "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[add_express_path]]></Event>"
        "<DeliveryID><![CDATA[SF]]></DeliveryID><WayBillId><![CDATA[123456789]]></WayBillId>"
        "<Version>2</Version><Count>2</Count>"
        + action.format(t=1546924840, kind=100001, msg="揽件成功")
        + action.format(t=1546924850, kind=200001, msg="运输中")
        + "</xml>"
    )


def query(encrypt: str | None = None) -> dict[str, str]:
    timestamp, nonce = str(int(time.time())), "20261202"
    params = {
        "timestamp": timestamp,
        "nonce": nonce,
        "signature": signature(TOKEN, timestamp, nonce),
    }
    if encrypt is not None:
        params["encrypt_type"] = "aes"
        params["msg_signature"] = signature(TOKEN, timestamp, nonce, encrypt)
    return params


def post(service, params: dict[str, str], body: str):
    return service.client.simulate_post(
        service.settings.callback_path,
        params=params,
        body=body.encode(),
        headers={"Content-Type": "text/xml"},
    )


def test_logistics_event_with_repeated_actions_in_plaintext_is_success_and_sends_nothing(
    plaintext_service,
):
    result = post(plaintext_service, query(), express_path_event())
    assert (result.status_code, result.text) == (200, "success")
    assert plaintext_service.outbound_to_wechat() == 0


def test_logistics_event_with_repeated_actions_in_safe_mode_is_success_and_sends_nothing(service):
    crypto = AesMessageCrypto(TOKEN, service.settings.encoding_aes_key, APPID)
    encrypt = crypto.encrypt(express_path_event())
    body = encode_envelope(PushFormat.XML, "gh_kefu_simulated", encrypt)
    result = post(service, query(encrypt), body)
    assert (result.status_code, result.text) == (200, "success")
    assert service.outbound_to_wechat() == 0


@pytest.mark.parametrize("field", ["FromUserName", "MsgType", "Content", "CreateTime"])
def test_a_repeated_field_kefu_relies_on_is_still_a_bad_request(plaintext_service, field):
    body = (
        "<xml><ToUserName>gh</ToUserName><FromUserName>o_user_1</FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType>text</MsgType>"
        "<Content>1</Content><MsgId>1</MsgId>"
        f"<{field}>2</{field}></xml>"
    )
    assert post(plaintext_service, query(), body).status_code == 400
    assert plaintext_service.outbound_to_wechat() == 0
