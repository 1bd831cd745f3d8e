"""Pushes that are not genuine are refused and reach neither the rules nor WeChat."""

from __future__ import annotations

import base64
import logging

import pytest

from adapters.wechat_push.crypto import signature
from adapters.wechat_push.encoding import encode_envelope
from adapters.wechat_push.fields import PushFormat
from entrypoints.cli.push_simulator import Mode, PushSimulator
from tests.e2e.conftest import ACCESS_TOKEN, AES_KEY, APPSECRET, TOKEN


def safe_push(service, text="1"):
    return service.simulator.build(
        service.simulator.text(text, "o_user_1"), PushFormat.JSON, Mode.SAFE
    )


def resign(push, encrypt: str, fmt=PushFormat.JSON):
    params = dict(push.params)
    params["msg_signature"] = signature(TOKEN, params["timestamp"], params["nonce"], encrypt)
    return params, encode_envelope(fmt, "gh_kefu_simulated", encrypt).encode()


def test_forged_msg_signature_is_forbidden(service):
    push = safe_push(service)
    result = service.send(push, params={**push.params, "msg_signature": "f" * 40})
    assert result.status_code == 403
    assert service.outbound_to_wechat() == 0


def test_body_swapped_under_a_valid_signature_is_forbidden(service):
    push, other = safe_push(service, "1"), safe_push(service, "2")
    assert service.send(push, body=other.body).status_code == 403
    assert service.outbound_to_wechat() == 0


def test_push_encrypted_for_another_appid_is_forbidden(service):
    stranger = PushSimulator(TOKEN, "wx_someone_else_123", AES_KEY)
    push = stranger.build(stranger.text("1", "o_user_1"), PushFormat.JSON, Mode.SAFE)
    assert service.send(push).status_code == 403
    assert service.outbound_to_wechat() == 0


def test_truncated_ciphertext_is_a_bad_request(service):
    push = safe_push(service)
    encrypt = push.body.decode().split('"Encrypt":"')[1].split('"')[0]
    cut = base64.b64encode(base64.b64decode(encrypt)[:-16]).decode()
    params, body = resign(push, cut)
    assert service.send(push, params=params, body=body).status_code == 400
    assert service.outbound_to_wechat() == 0


@pytest.mark.parametrize("body", [b"hello", b"", b"[1, 2]", b"<html></html>", b"\xff\xfe<xml/>"])
def test_a_body_that_is_not_a_push_is_a_bad_request(service, body):
    push = safe_push(service)
    assert service.send(push, body=body).status_code in (400, 403)
    assert service.outbound_to_wechat() == 0


def test_non_push_body_in_plaintext_mode_is_a_bad_request(plaintext_service):
    sim = plaintext_service.simulator
    push = sim.build(sim.text("1", "o_user_1"), PushFormat.JSON, Mode.PLAINTEXT)
    assert plaintext_service.send(push, body=b"not a push").status_code == 400
    assert plaintext_service.outbound_to_wechat() == 0


def test_oversized_body_is_refused_with_413(service):
    push = safe_push(service)
    assert service.send(push, body=b"{" + b" " * (64 * 1024) + b"}").status_code == 413
    assert service.outbound_to_wechat() == 0


def test_plaintext_push_while_a_key_is_configured_is_forbidden(service):
    sim = service.simulator
    push = sim.build(sim.text("1", "o_user_1"), PushFormat.JSON, Mode.PLAINTEXT)
    assert service.send(push).status_code == 403
    assert service.outbound_to_wechat() == 0


def test_missing_signature_is_forbidden(service):
    push = safe_push(service)
    params = {k: v for k, v in push.params.items() if k != "msg_signature"}
    assert service.send(push, params=params).status_code == 403


def test_no_secret_reaches_the_logs_even_at_debug(service, caplog):
    caplog.set_level(logging.DEBUG)
    for text in ("1", "2", "3", "hello"):
        assert service.push(text).text == "success"
    service.send(safe_push(service), params={"timestamp": "1", "nonce": "1"})
    assert "access token" in caplog.text  # the API adapter did log at DEBUG
    for secret in (ACCESS_TOKEN, APPSECRET, AES_KEY, TOKEN):
        assert secret not in caplog.text
