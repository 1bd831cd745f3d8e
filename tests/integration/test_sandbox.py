"""The WeChat sandbox: in-process through falcon's TestClient, and served over real HTTP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import falcon.testing
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from adapters.wechat_api.api_keys import ApiKeys
from adapters.wechat_api.security import ApiSecurity
from entrypoints.sandbox.main import serve_sandbox
from entrypoints.sandbox.routes import create_sandbox_app
from entrypoints.sandbox.security import SandboxSecurity
from entrypoints.sandbox.state import SEND_PATH, SandboxState
from tests.fakes import FakeClock

APPID, APPSECRET = "wx5ea1b0c0ffee0001", "sandbox-test-appsecret-0001"
TYPING_PATH, UPLOAD_PATH = "/cgi-bin/message/custom/business/typing", "/cgi-bin/media/upload"
OLD_TYPING_PATH = "/cgi-bin/message/custom/typing"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def slept() -> list[float]:
    return []


@pytest.fixture
def state(clock: FakeClock, slept: list[float]) -> SandboxState:
    return SandboxState(clock=clock, sleep=slept.append)


@pytest.fixture
def client(state: SandboxState) -> falcon.testing.TestClient:
    return falcon.testing.TestClient(create_sandbox_app(APPID, APPSECRET, state))


def stable_token(client: falcon.testing.TestClient, **fields: Any) -> dict[str, Any]:
    body = {"grant_type": "client_credential", "appid": APPID, "secret": APPSECRET} | fields
    answer: dict[str, Any] = client.simulate_post("/cgi-bin/stable_token", json=body).json
    return answer


def call(client: falcon.testing.TestClient, path: str, token: str | None, body: Any) -> int:
    raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    params = {} if token is None else {"access_token": token}
    errcode: int = client.simulate_post(path, params=params, body=raw).json["errcode"]
    return errcode


def upload(
    client: falcon.testing.TestClient, token: str, field: str = "media", kind: str = "image"
):
    files = {field: ("poster.png", PNG, "image/png")}
    prepared = requests.Request("POST", "http://sandbox/", files=files).prepare()
    assert isinstance(prepared.body, bytes)
    return client.simulate_post(
        UPLOAD_PATH,
        params={"access_token": token, "type": kind},
        body=prepared.body,
        headers={"Content-Type": prepared.headers["Content-Type"]},
    )


def text(content: str, touser: str = "o_user") -> dict[str, Any]:
    return {"touser": touser, "msgtype": "text", "text": {"content": content}}


@pytest.fixture
def token(client: falcon.testing.TestClient) -> str:
    issued: str = stable_token(client)["access_token"]
    return issued


def test_stable_token_is_issued_for_the_configured_appid_and_secret(client):
    answer = stable_token(client)
    assert answer["expires_in"] == 7200
    assert len(answer["access_token"]) >= 64


def test_stable_token_gives_the_same_token_while_it_is_valid(client, clock):
    first = stable_token(client)
    clock.now += 1000
    again = stable_token(client)
    assert again == {"access_token": first["access_token"], "expires_in": 6200}


def test_a_forced_refresh_kills_the_old_token_at_once(client, token):
    fresh = stable_token(client, force_refresh=True)["access_token"]
    assert fresh != token
    assert call(client, SEND_PATH, token, text("hi")) == 40001
    assert call(client, SEND_PATH, fresh, text("hi")) == 0


@pytest.mark.parametrize(
    ("fields", "errcode"),
    [
        ({"secret": "wrong-secret"}, 40125),
        ({"appid": "wx0000000000000000"}, 40013),
        ({"grant_type": "password"}, 40002),
        ({"appid": ""}, 41002),
        ({"secret": ""}, 41004),
    ],
)
def test_wrong_credentials_get_no_token(client, fields, errcode):
    answer = stable_token(client, **fields)
    assert answer["errcode"] == errcode
    assert "access_token" not in answer


def test_the_classic_token_endpoint_replaces_its_token_with_five_minutes_of_overlap(client, clock):
    query = {"grant_type": "client_credential", "appid": APPID, "secret": APPSECRET}
    old = client.simulate_get("/cgi-bin/token", params=query).json["access_token"]
    new = client.simulate_get("/cgi-bin/token", params=query).json["access_token"]
    assert new != old
    clock.now += 299
    assert call(client, SEND_PATH, old, text("hi")) == 0
    clock.now += 1
    assert call(client, SEND_PATH, old, text("hi")) == 40001
    assert call(client, SEND_PATH, new, text("hi")) == 0


def test_the_classic_token_endpoint_refuses_a_wrong_secret(client):
    query = {"grant_type": "client_credential", "appid": APPID, "secret": "nope"}
    assert client.simulate_get("/cgi-bin/token", params=query).json["errcode"] == 40125


def test_an_expired_token_gets_42001_and_a_new_stable_token_is_issued(client, clock, token):
    clock.now += 7200
    assert call(client, SEND_PATH, token, text("hi")) == 42001
    assert stable_token(client)["access_token"] != token


def test_a_missing_token_gets_41001_and_an_unknown_one_40001(client, token):
    assert call(client, SEND_PATH, None, text("hi")) == 41001
    assert call(client, SEND_PATH, "not-a-token-we-issued", text("hi")) == 40001


def test_a_revoked_token_gets_40001_until_a_new_one_is_fetched(client, token):
    assert client.simulate_post("/sandbox/tokens/revoke").status_code == 204
    assert call(client, SEND_PATH, token, text("hi")) == 40001
    assert call(client, SEND_PATH, stable_token(client)["access_token"], text("hi")) == 0


def test_stable_token_by_get_is_refused_as_require_post(client):
    assert client.simulate_get("/cgi-bin/stable_token").json["errcode"] == 43002


@pytest.mark.parametrize(
    ("body", "errcode"),
    [
        (b"", 44002),
        (b"{not json", 47001),
        (b"\xff\xfe{}", 47001),
        (b"[1, 2]", 47001),
        (text("hi", touser=""), 40003),
        ({"msgtype": "text", "text": {"content": "hi"}}, 40003),
        (text(""), 44004),
        ({"touser": "o_user", "msgtype": "text", "text": {}}, 44004),
        (text("好" * 683), 45002),
        (text("x" * 2049), 45002),
        ({"touser": "o_user", "msgtype": "voice", "voice": {"media_id": "m"}}, 40008),
        ({"touser": "o_user", "text": {"content": "hi"}}, 40008),
        ({"touser": "o_user", "msgtype": "image", "image": {"media_id": "never-uploaded"}}, 40007),
        ({"touser": "o_user", "msgtype": "image", "image": {}}, 40101),
        ({"touser": "o_user", "msgtype": "link", "link": {"title": "t", "url": "u"}}, 40101),
        (
            {
                "touser": "o_user",
                "msgtype": "miniprogrampage",
                "miniprogrampage": {"title": "t", "pagepath": "pages/a", "thumb_media_id": "x"},
            },
            40007,
        ),
    ],
)
def test_a_malformed_send_gets_wechats_errcode(client, token, body, errcode):
    assert call(client, SEND_PATH, token, body) == errcode


def test_text_of_exactly_2048_utf8_bytes_is_accepted(client, token):
    assert call(client, SEND_PATH, token, text("好" * 682 + "ab")) == 0


def test_a_valid_send_is_recorded_with_its_raw_body(client, state, token):
    link = {
        "title": "点击下载APP",
        "description": "注册领取红包",
        "url": "https://e.com/a",
        "thumb_url": "https://e.com/t.png",
    }
    message = {"touser": "o_user", "msgtype": "link", "link": link}
    assert call(client, SEND_PATH, token, message) == 0
    escaped = json.dumps(text("再见")).encode()
    assert call(client, SEND_PATH, token, escaped) == 0
    sends = [c for c in state.calls if c.path == SEND_PATH]
    assert [c.body for c in sends] == [message, text("再见")]
    assert sends[0].raw is not None and "点击下载APP" in sends[0].raw
    assert sends[1].raw is not None and "\\u518d\\u89c1" in sends[1].raw  # what the user would see
    assert state.sent == [message, text("再见")]


def test_an_uploaded_image_gets_a_media_id_that_sends_accept(client, state, clock, token):
    answer = upload(client, token).json
    assert answer | {"media_id": "?"} == {
        "errcode": 0,
        "errmsg": "ok",
        "type": "image",
        "media_id": "?",
        "created_at": int(clock.now),
    }
    media_id = answer["media_id"]
    uploaded = [c.body for c in state.calls if c.path == UPLOAD_PATH]
    assert uploaded[0]["filename"] == "poster.png"
    assert (uploaded[0]["content_type"], uploaded[0]["size"]) == ("image/png", len(PNG))
    card = {"title": "本月活动", "pagepath": "pages/event/index?id=42", "thumb_media_id": media_id}
    image = {"touser": "o_user", "msgtype": "image", "image": {"media_id": media_id}}
    page = {"touser": "o_user", "msgtype": "miniprogrampage", "miniprogrampage": card}
    assert call(client, SEND_PATH, token, image) == 0
    assert call(client, SEND_PATH, token, page) == 0


def test_a_media_id_runs_out_after_three_days(client, clock, token):
    media_id = upload(client, token).json["media_id"]
    clock.now += 3 * 24 * 3600
    token = stable_token(client)["access_token"]
    image = {"touser": "o_user", "msgtype": "image", "image": {"media_id": media_id}}
    assert call(client, SEND_PATH, token, image) == 40007


def test_an_upload_in_a_field_not_named_media_gets_41005(client, token):
    assert upload(client, token, field="file").json["errcode"] == 41005


def test_an_upload_sent_as_json_gets_41005(client, token):
    params = {"access_token": token, "type": "image"}
    answer = client.simulate_post(UPLOAD_PATH, params=params, json={"media": "x"})
    assert answer.json["errcode"] == 41005


def test_an_upload_of_another_type_gets_40004(client, token):
    assert upload(client, token, kind="voice").json["errcode"] == 40004


def test_an_upload_with_a_bad_token_gets_40001(client):
    assert upload(client, "stale").json["errcode"] == 40001


@pytest.mark.parametrize(("command", "errcode"), [("Typing", 0), ("CancelTyping", 0), ("x", 45072)])
def test_typing_takes_only_its_two_commands(client, token, command, errcode):
    assert call(client, TYPING_PATH, token, {"touser": "o_user", "command": command}) == errcode


def test_typing_for_nobody_gets_40003(client, token):
    assert call(client, TYPING_PATH, token, {"touser": "", "command": "Typing"}) == 40003


def test_a_fault_answers_its_errcode_the_next_n_times_then_calls_succeed(client, state, token):
    fault = {"path": SEND_PATH, "errcode": 45015, "times": 2}
    assert client.simulate_post("/sandbox/faults", json=fault).status_code == 201
    codes = [call(client, SEND_PATH, token, text(f"try {n}")) for n in range(3)]
    assert codes == [45015, 45015, 0]
    refused = [c for c in state.calls if c.errcode == 45015]
    assert [c.body for c in refused] == [text("try 0"), text("try 1")]
    assert client.simulate_get("/sandbox/faults").json == []


def test_faults_on_one_path_leave_other_paths_alone(client, token):
    client.simulate_post("/sandbox/faults", json={"path": SEND_PATH, "errcode": -1})
    assert call(client, TYPING_PATH, token, {"touser": "o_user", "command": "Typing"}) == 0
    assert call(client, SEND_PATH, token, text("hi")) == -1


def test_a_status_fault_answers_an_html_error_page_once(client, state, token):
    client.simulate_post("/sandbox/faults", json={"path": SEND_PATH, "status": 502})
    failed = client.simulate_post(SEND_PATH, params={"access_token": token}, json=text("hi"))
    assert failed.status_code == 502 and failed.headers["content-type"].startswith("text/html")
    assert call(client, SEND_PATH, token, text("hi")) == 0
    assert [c.errcode for c in state.calls if c.path == SEND_PATH] == [502, 0]


def test_a_stall_sleeps_before_an_ordinary_answer(client, slept, token):
    client.simulate_post("/sandbox/faults", json={"path": SEND_PATH, "stall": 3.0, "times": 1})
    assert call(client, SEND_PATH, token, text("slow")) == 0
    assert call(client, SEND_PATH, token, text("fast")) == 0
    assert slept == [3.0]


@pytest.mark.parametrize(
    "fault",
    [
        {},
        {"path": SEND_PATH},
        {"path": SEND_PATH, "errcode": "x"},
        {"path": SEND_PATH, "errcode": 1, "times": 0},
        {"path": SEND_PATH, "stall": -1},
        {"path": SEND_PATH, "tamper": "everything"},
        {"path": SEND_PATH, "status": 200},
    ],
)
def test_a_fault_that_says_nothing_clear_is_refused(client, fault):
    assert client.simulate_post("/sandbox/faults", json=fault).status_code == 400


def test_calls_are_listed_in_order_without_secrets_and_can_be_cleared(client, token):
    call(client, SEND_PATH, token, text("one"))
    call(client, TYPING_PATH, None, {"touser": "o_user", "command": "Typing"})
    listed = client.simulate_get("/sandbox/calls")
    assert [(c["path"], c["errcode"]) for c in listed.json] == [
        ("/cgi-bin/stable_token", 0),
        (SEND_PATH, 0),
        (TYPING_PATH, 41001),
    ]
    assert listed.json[0]["body"] == {
        "grant_type": "client_credential",
        "appid": APPID,
        "force_refresh": False,
    }
    assert APPSECRET not in listed.text and token not in listed.text
    assert client.simulate_delete("/sandbox/calls").status_code == 204
    assert client.simulate_get("/sandbox/calls").json == []


@pytest.fixture
def served() -> Iterator[Any]:
    with serve_sandbox("127.0.0.1", 0, APPID, APPSECRET) as server:
        yield server


def test_a_served_sandbox_answers_real_http_on_a_free_port(served):
    session = requests.Session()
    grant = {"grant_type": "client_credential", "appid": APPID, "secret": APPSECRET}
    token = session.post(f"{served.url}/cgi-bin/stable_token", json=grant, timeout=5).json()
    params = {"access_token": token["access_token"], "type": "image"}
    files = {"media": ("poster.png", PNG, "image/png")}
    uploaded = session.post(f"{served.url}{UPLOAD_PATH}", params=params, files=files, timeout=5)
    refused = session.post(
        f"{served.url}{UPLOAD_PATH}", params=params, files={"file": files["media"]}, timeout=5
    )
    image = {
        "touser": "o_user",
        "msgtype": "image",
        "image": {"media_id": uploaded.json()["media_id"]},
    }
    sent = session.post(
        f"{served.url}{SEND_PATH}", params=params, timeout=5, data=json.dumps(image).encode()
    )
    assert (refused.json()["errcode"], sent.json()) == (41005, {"errcode": 0, "errmsg": "ok"})
    calls = session.get(f"{served.url}/sandbox/calls", timeout=5).json()
    assert [(c["path"], c["errcode"]) for c in calls] == [
        ("/cgi-bin/stable_token", 0),
        (UPLOAD_PATH, 0),
        (UPLOAD_PATH, 41005),
        (SEND_PATH, 0),
    ]
    assert served.state.sent == [image]


def test_a_served_stall_outlasts_a_client_timeout_and_a_fault_survives_an_unread_upload(served):
    token = served.state.issue_stable(False)[0]
    requests.post(f"{served.url}/sandbox/faults", json={"path": SEND_PATH, "stall": 0.5}, timeout=5)
    with pytest.raises(requests.ReadTimeout):
        requests.post(
            f"{served.url}{SEND_PATH}",
            params={"access_token": token},
            data=json.dumps(text("hi")).encode(),
            timeout=0.1,
        )
    fault = {"path": UPLOAD_PATH, "errcode": -1}
    requests.post(f"{served.url}/sandbox/faults", json=fault, timeout=5)
    big = {"media": ("big.png", PNG * 40_000, "image/png")}
    params = {"access_token": token, "type": "image"}
    answer = requests.post(f"{served.url}{UPLOAD_PATH}", params=params, files=big, timeout=5)
    assert answer.json() == {"errcode": -1, "errmsg": "system error"}


def test_the_sandbox_runs_standalone_from_the_command_line():
    command = [
        sys.executable,
        "-m",
        "entrypoints.sandbox",
        "--port",
        "0",
        "--appid",
        APPID,
        "--appsecret",
        APPSECRET,
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().split()[3]
        grant = {"grant_type": "client_credential", "appid": APPID, "secret": "wrong"}
        answer = requests.post(f"{url}/cgi-bin/stable_token", json=grant, timeout=5)
        assert answer.json() == {"errcode": 40125, "errmsg": "invalid appsecret"}
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_both_typing_paths_are_served(client, token):
    for path in (TYPING_PATH, OLD_TYPING_PATH):
        assert call(client, path, token, {"touser": "o_user", "command": "Typing"}) == 0


def test_business_typing_can_be_answered_as_an_api_that_does_not_exist(state, token):
    refusing = falcon.testing.TestClient(
        create_sandbox_app(APPID, APPSECRET, state, business_typing=False)
    )
    typing = {"touser": "o_user", "command": "Typing"}
    assert call(refusing, TYPING_PATH, token, typing) == 48001
    assert call(refusing, OLD_TYPING_PATH, token, typing) == 0


def test_a_tamper_fault_is_taken_for_a_path(client):
    fault = {"path": SEND_PATH, "tamper": "signature"}
    assert client.simulate_post("/sandbox/faults", json=fault).status_code == 201
    assert client.simulate_get("/sandbox/faults").json[0]["tamper"] == "signature"


@pytest.fixture
def secured_client(state: SandboxState) -> tuple[falcon.testing.TestClient, rsa.RSAPrivateKey]:
    app_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    platform = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    security = SandboxSecurity(APPID, b"k" * 32, "aes-sn", app_key.public_key(), platform, "c-sn")
    app = create_sandbox_app(APPID, APPSECRET, state, security=security)
    return falcon.testing.TestClient(app), app_key


def sealed_call(client, app_key, token, body, signer=None) -> int:
    keys = ApiKeys(b"k" * 32, "aes-sn", signer or app_key, "rsa-sn", app_key.public_key(), "c-sn")
    url = f"http://falconframework.org{SEND_PATH}"  # the host falcon's TestClient uses
    sealed = ApiSecurity(APPID, keys).seal(url, body)
    answer = client.simulate_post(
        SEND_PATH, params={"access_token": token}, body=sealed.body, headers=sealed.headers
    )
    errcode: int = answer.json.get("errcode", 0)
    return errcode


def test_in_security_mode_a_plain_call_is_refused_for_its_missing_headers(secured_client, state):
    client, _ = secured_client
    answer = client.simulate_post("/cgi-bin/stable_token", json={"appid": APPID})
    assert answer.json["errcode"] == 40233
    assert [(c.errcode, c.sealed) for c in state.calls] == [(40233, True)]


def test_in_security_mode_a_call_signed_with_another_key_gets_40234(secured_client):
    client, app_key = secured_client
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert sealed_call(client, app_key, "t", text("hi"), signer=stranger) == 40234


def test_the_command_line_sandbox_can_refuse_business_typing():
    command = [sys.executable, "-m", "entrypoints.sandbox", "--port", "0"]
    command += ["--appid", APPID, "--appsecret", APPSECRET, "--no-business-typing"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().split()[3]
        grant = {"grant_type": "client_credential", "appid": APPID, "secret": APPSECRET}
        token = requests.post(f"{url}/cgi-bin/stable_token", json=grant, timeout=5).json()
        typing = {"touser": "o_user", "command": "Typing"}
        codes = [
            requests.post(
                f"{url}{path}",
                params={"access_token": token["access_token"]},
                json=typing,
                timeout=5,
            ).json()["errcode"]
            for path in (TYPING_PATH, OLD_TYPING_PATH)
        ]
        assert codes == [48001, 0]
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_kefu_sandbox_answers_a_token_and_a_send_prints_each_call_and_stops_on_sigint():
    command = [sys.executable, "-m", "entrypoints.cli.main", "sandbox", "--port", "0"]
    command += ["--appid", APPID, "--appsecret", APPSECRET]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().split()[3]
        grant = {"grant_type": "client_credential", "appid": APPID, "secret": APPSECRET}
        issued = requests.post(f"{url}/cgi-bin/stable_token", json=grant, timeout=5).json()
        params = {"access_token": issued["access_token"]}
        sent = requests.post(f"{url}{SEND_PATH}", params=params, json=text("你好"), timeout=5)
        assert sent.json() == {"errcode": 0, "errmsg": "ok"}
        printed = [process.stdout.readline() for _ in range(2)]
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=10)
    finally:
        process.kill()
    assert process.returncode == 0
    assert printed[0].startswith("POST /cgi-bin/stable_token -> 0 ok")
    assert printed[1].startswith(f"POST {SEND_PATH} -> 0 ok")
    assert '"content":"你好"' in printed[1]
    assert APPSECRET not in "".join(printed) + out + err
    assert issued["access_token"] not in "".join(printed) + out + err
    assert out.strip().endswith("WeChat sandbox stopped")


def test_kefu_sandbox_stops_on_sigint_even_when_started_with_sigint_ignored():
    # As a non-interactive shell starts `&` jobs: SIGINT set to be ignored before Python starts.
    command = [sys.executable, "-m", "entrypoints.cli.main", "sandbox", "--port", "0"]
    process = subprocess.Popen(
        [*command, "--appid", APPID, "--appsecret", APPSECRET],
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().startswith("WeChat sandbox on")
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
        assert process.stdout.read().strip() == "WeChat sandbox stopped"
    finally:
        process.kill()


def test_kefu_sandbox_explains_its_faults_and_stalls_in_its_help():
    command = [sys.executable, "-m", "entrypoints.cli.main", "sandbox", "--help"]
    shown = subprocess.run(command, capture_output=True, text=True, timeout=30, check=True).stdout
    for words in ("--port", "--appid", "--appsecret", "/sandbox/faults", '"stall"', '"errcode"'):
        assert words in shown


def test_kefu_sandbox_without_credentials_says_what_is_missing():
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEFU_")}
    command = [sys.executable, "-m", "entrypoints.cli.main", "sandbox", "--port", "0"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=30, env=env)
    assert result.returncode == 2
    assert "--appid and --appsecret" in result.stderr
