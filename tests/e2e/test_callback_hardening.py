"""Before a push is proven genuine nothing it carries can cause a 500, a reflected page or a log
line with its query string; in plaintext mode a signature is good for one body only."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import falcon.testing
import pytest
import responses

from adapters.wechat_push.crypto import signature
from adapters.wechat_push.fields import PushFormat
from entrypoints.cli.push_simulator import Mode
from entrypoints.service.bootstrap import app_for, start
from entrypoints.service.container import Container
from entrypoints.service.settings import Settings
from tests.e2e.conftest import TOKEN, Service, mock_wechat, running_service


def verification(echostr: str) -> dict[str, str]:
    params = {"timestamp": str(int(time.time())), "nonce": "1514711492", "echostr": echostr}
    params["signature"] = signature(TOKEN, params["timestamp"], params["nonce"])
    return params


def test_wechats_echostr_is_answered_raw_and_never_sniffed(service):
    answer = service.client.simulate_get("/wechat/callback", params=verification("4375120948abc"))
    assert (answer.status_code, answer.text) == (200, "4375120948abc")
    assert answer.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    "echostr", ["<script>alert(1)</script>", "4375 1209", "x" * 129, "", "数字123"]
)
def test_an_echostr_that_is_not_wechats_is_not_reflected(service, echostr):
    answer = service.client.simulate_get("/wechat/callback", params=verification(echostr))
    assert answer.status_code == 400
    assert echostr not in answer.text or not echostr


def test_a_lone_surrogate_in_encrypt_is_a_bad_request_not_a_500(service, caplog):
    caplog.set_level(logging.DEBUG)
    push = service.simulator.build(service.simulator.text("1", "o_u"), PushFormat.JSON, Mode.SAFE)
    answer = service.send(push, body=b'{"Encrypt":"\\ud800"}')
    assert answer.status_code == 400
    assert push.params["msg_signature"] not in caplog.text
    assert service.outbound_to_wechat() == 0


class _Exploding:
    def open(self, params: object, body: bytes) -> None:
        raise RuntimeError("a bug in the push gateway")


def test_an_unexpected_error_is_logged_without_the_query_string(settings, caplog):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        mock_wechat(rsps)
        container = Container(settings=settings)
        start(container)
        try:
            with container.push_gateway.override(_Exploding()):
                client = falcon.testing.TestClient(app_for(container))
                query = {"signature": "sig-7f3a9c", "openid": "o_secret_user", "nonce": "n-4242"}
                answer = client.simulate_post("/wechat/callback", params=query, body=b"{}")
        finally:
            container.shutdown_resources()
    assert answer.status_code == 500
    assert "unexpected error on POST /wechat/callback" in caplog.text
    assert "a bug in the push gateway" in caplog.text
    for value in query.values():
        assert value not in caplog.text


def test_a_chunked_push_is_read_and_answered(service):
    push = service.simulator.build(service.simulator.text("1", "o_u"), PushFormat.XML, Mode.SAFE)
    answer = service.client.simulate_post(
        "/wechat/callback",
        params=push.params,
        body=push.body,
        headers={"Content-Type": push.content_type, "Transfer-Encoding": "chunked"},
        extras={"CONTENT_LENGTH": ""},
    )
    assert (answer.status_code, answer.text) == (200, "success")
    assert len(service.sent()) == 1


def test_a_chunked_body_over_64_kib_is_refused(service):
    push = service.simulator.build(service.simulator.text("1", "o_u"), PushFormat.XML, Mode.SAFE)
    answer = service.client.simulate_post(
        "/wechat/callback",
        params=push.params,
        body=b"<xml>" + b" " * (64 * 1024) + b"</xml>",
        headers={"Transfer-Encoding": "chunked"},
        extras={"CONTENT_LENGTH": ""},
    )
    assert answer.status_code == 413


def plaintext_push(service, text: str, openid: str):
    sim = service.simulator
    return sim.build(sim.text(text, openid), PushFormat.JSON, Mode.PLAINTEXT)


def test_a_captured_plaintext_query_string_carries_no_other_body(plaintext_service):
    genuine = plaintext_push(plaintext_service, "1", "o_alice")
    assert plaintext_service.send(genuine).text == "success"
    for user in ("o_bob", "o_carol", "o_dave"):
        forged = plaintext_push(plaintext_service, "1", user)
        answer = plaintext_service.send(genuine, body=forged.body)
        assert answer.status_code == 403
    assert [s["touser"] for s in plaintext_service.sent()] == ["o_alice"]


def test_wechats_retry_of_the_same_plaintext_body_still_gets_success(plaintext_service):
    genuine = plaintext_push(plaintext_service, "1", "o_alice")
    answers = [plaintext_service.send(genuine) for _ in range(3)]
    assert [(a.status_code, a.text) for a in answers] == [(200, "success")] * 3
    assert len(plaintext_service.sent()) == 1


def verification_of(push) -> dict[str, str]:
    """The GET WeChat would send with the same signature, timestamp and nonce as push."""
    keep = ("signature", "timestamp", "nonce")
    return {**{k: push.params[k] for k in keep}, "echostr": "4375120948345356249"}


@contextmanager
def two_workers(settings: Settings) -> Iterator[tuple[Service, Service]]:
    """Two services sharing the settings' state store, as two workers or two hosts do."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        mock_wechat(rsps)
        plain = replace(settings, encoding_aes_key=None)
        with running_service(plain, rsps) as first, running_service(plain, rsps) as second:
            yield first, second


@pytest.fixture(params=["disk", "redis"])
def shared_settings(request, settings: Settings) -> Settings:
    if request.param == "disk":
        return settings
    return replace(settings, redis_url=request.getfixturevalue("redis_url"))


def test_a_url_verifications_signature_carries_no_push_on_another_worker(shared_settings):
    with two_workers(shared_settings) as (first, second):
        push = plaintext_push(first, "1", "o_forged")
        get = first.client.simulate_get("/wechat/callback", params=verification_of(push))
        assert get.status_code == 200
        assert second.send(push).status_code == 403
        assert second.sent() == []


def test_a_pushs_signature_is_refused_for_a_url_verification_on_another_worker(shared_settings):
    with two_workers(shared_settings) as (first, second):
        push = plaintext_push(first, "1", "o_alice")
        assert first.send(push).text == "success"
        get = second.client.simulate_get("/wechat/callback", params=verification_of(push))
        assert get.status_code == 403
        assert "4375120948345356249" not in get.text


def test_wechats_repeated_url_verification_is_still_answered(plaintext_service):
    push = plaintext_push(plaintext_service, "1", "o_alice")
    answers = [
        plaintext_service.client.simulate_get("/wechat/callback", params=verification_of(push))
        for _ in range(2)
    ]
    assert [(a.status_code, a.text) for a in answers] == [(200, "4375120948345356249")] * 2
