"""API security mode end to end: kefu under gunicorn and the sandbox, each checking the other."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from adapters.wechat_push.fields import PushFormat
from entrypoints.cli.gunicorn_process import KefuUnderGunicorn
from entrypoints.cli.push_simulator import Mode, PushSimulator
from entrypoints.sandbox.main import serve_sandbox
from entrypoints.sandbox.records import Call, Fault
from entrypoints.sandbox.security import SandboxSecurity
from entrypoints.sandbox.state import SEND_PATH, SandboxState
from tests.certificates import self_signed_pem
from tests.e2e.conftest import AES_KEY, APPID, APPSECRET, TOKEN
from tests.e2e.servers import gunicorn, kefu_settings
from tests.images import png
from tests.polling import wait_until

TOKEN_PATH = "/cgi-bin/stable_token"
TYPING_PATH = "/cgi-bin/message/custom/business/typing"
UPLOAD_PATH = "/cgi-bin/media/upload"
RULES = {"1": {"type": "text", "text": "one"}, "3": {"type": "image", "url": "/cms/poster02.png"}}
AES_SN, RSA_SN, CERT_SN = "sandbox-aes-sn-0001", "sandbox-rsa-sn-0002", "sandbox-cert-sn-0003"


@dataclass
class Secured:
    url: str
    sandbox: SandboxState
    kefu: KefuUnderGunicorn
    log: Path
    api_key: str

    def push(self, text: str) -> requests.Response:
        simulator = PushSimulator(TOKEN, APPID, AES_KEY)
        push = simulator.build(simulator.text(text, "o_secured"), PushFormat.JSON, Mode.SAFE)
        return requests.post(
            f"{self.url}/wechat/callback", params=push.params, data=push.body, timeout=10
        )

    def calls(self, path: str) -> list[Call]:
        return [call for call in self.sandbox.calls if call.path == path]


def pem_key(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,  # "BEGIN RSA PRIVATE KEY", as the console
        serialization.NoEncryption(),
    )


def certificate(key: rsa.RSAPrivateKey) -> bytes:
    return self_signed_pem(key, "sandbox platform")


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[Secured]:
    (tmp_path / "media" / "cms").mkdir(parents=True)
    (tmp_path / "media" / "cms" / "poster02.png").write_bytes(png())
    (tmp_path / "rules.json").write_text(json.dumps(RULES), "utf-8")
    app_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    platform_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (tmp_path / "app.pem").write_bytes(pem_key(app_key))
    (tmp_path / "platform.crt").write_bytes(certificate(platform_key))
    aes_key = os.urandom(32)
    security = SandboxSecurity(APPID, aes_key, AES_SN, app_key.public_key(), platform_key, CERT_SN)
    state = SandboxState()
    with serve_sandbox("127.0.0.1", 0, APPID, APPSECRET, state, security=security) as sandbox:
        api_key = base64.b64encode(aes_key).decode()
        settings = kefu_settings(
            tmp_path,
            sandbox.url,
            KEFU_LOG_LEVEL="DEBUG",
            KEFU_API_AES_KEY=api_key,
            KEFU_API_AES_SN=AES_SN,
            KEFU_API_RSA_KEY_FILE=str(tmp_path / "app.pem"),
            KEFU_API_RSA_SN=RSA_SN,
            KEFU_API_CERT_FILE=str(tmp_path / "platform.crt"),
            KEFU_API_CERT_SN=CERT_SN,
        )
        log = tmp_path / "kefu.log"
        with gunicorn(settings, log, workers=1) as kefu:
            yield Secured(kefu.url, state, kefu, log, api_key)


def test_token_text_send_and_typing_go_sealed_and_signed_and_their_answers_verify(secured):
    for text in ("1", "3"):
        answer = secured.push(text)
        assert (answer.status_code, answer.text) == (200, "success")
    wait_until(lambda: len(secured.calls(SEND_PATH)) >= 2)  # replies go out after the answer
    # The sandbox verified kefu's signature and opened each body (errcode 0), and kefu verified
    # and opened each answer: otherwise the send after the token, or the second send, would not
    # have been made.
    for path in (TOKEN_PATH, TYPING_PATH, SEND_PATH):
        assert [(c.errcode, c.sealed) for c in secured.calls(path)][:1] == [(0, True)], path
    assert [c.body["msgtype"] for c in secured.calls(SEND_PATH)] == ["text", "image"]
    assert [c.sealed for c in secured.calls(UPLOAD_PATH)] == [False]  # the mode excludes uploads
    secured.kefu.stop()
    assert secured.api_key not in secured.log.read_text("utf-8")  # logged at DEBUG, key unshown


@pytest.mark.parametrize("tamper", ["data", "signature", "certificate"])
def test_a_tampered_answer_is_refused_and_reported(secured, tamper):
    secured.sandbox.add_fault(Fault(SEND_PATH, tamper=tamper))
    assert secured.push("1").status_code == 200
    assert secured.push("1").status_code == 200
    wait_until(lambda: len(secured.calls(SEND_PATH)) >= 2)  # replies go out after the answer
    sends = secured.calls(SEND_PATH)
    # WeChat took the first send, but its answer did not verify: kefu reports it and does not
    # take it for delivered; the next push's send is verified as usual.
    assert [c.errcode for c in sends] == [0, 0]
    secured.kefu.stop()
    log = secured.log.read_text("utf-8")
    assert "answer to /cgi-bin/message/custom/send refused: signature does not verify" in log
    assert log.count("not logged again until an answer verifies") == 1  # one per episode
    assert log.count("WeChat may have taken this send") == 1  # the part, recorded uncertain


@pytest.mark.parametrize("errcode", [45015, 40001])
def test_a_forged_unsigned_error_is_no_verdict_and_drops_no_token(secured, errcode):
    secured.sandbox.add_fault(Fault(SEND_PATH, errcode=errcode, tamper="unsigned"))
    assert secured.push("1").status_code == 200
    wait_until(lambda: len(secured.calls(SEND_PATH)) >= 1)
    assert secured.push("1").status_code == 200
    wait_until(lambda: len(secured.calls(SEND_PATH)) >= 2)
    secured.kefu.stop()
    # The forged answer's send is not repeated, and the next push's goes out with the same token.
    assert [c.errcode for c in secured.calls(SEND_PATH)] == [errcode, 0]
    assert len(secured.calls(TOKEN_PATH)) == 1
    log = secured.log.read_text("utf-8")
    assert f"answer is not signed (it claims errcode {errcode})" in log
    # Listed for the operator as uncertain, never as WeChat's refusal; the token stays.
    letters = [line for line in log.splitlines() if "is a dead letter" in line]
    assert len(letters) == 1 and "uncertain" in letters[0] and str(errcode) not in letters[0]
    assert "rejected the access token" not in log
