"""RequestsWeChatApi against `responses` and a local server: tokens, sends, uploads, secrets."""

from __future__ import annotations

import json
import logging
import socket
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
import responses
from responses import matchers

from adapters.logs.redaction import RedactSecrets, install_redaction, redact
from adapters.media.ids import ImageUploader
from adapters.wechat_api.client import RequestsWeChatApi
from adapters.wechat_api.errors import WeChatApiError, WeChatBadAnswer, WeChatUnavailable
from adapters.wechat_api.tokens import IssuedToken, TokenCache
from domain.errors import DeliveryError, FailureKind
from domain.ports import WeChatMessenger
from domain.replies import ImageSend, LinkReply, MediaFile, MiniProgramPageSend, TextReply
from tests.fakes import FakeClock

BASE = "https://api.weixin.qq.com"
TOKEN_URL = f"{BASE}/cgi-bin/stable_token"
SEND_URL = f"{BASE}/cgi-bin/message/custom/send"
APPID = "wx0123456789abcdef"
SECRET = "appsecret-5f2d9c0e7a1b"
TOKEN_REQUEST = {
    "grant_type": "client_credential",
    "appid": APPID,
    "secret": SECRET,
    "force_refresh": False,
}
OK = {"errcode": 0, "errmsg": "ok"}
HELLO = TextReply("Hello World")


@pytest.fixture
def wechat() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


def issue_token(
    mock: responses.RequestsMock, token: str = "TOKEN-A", expires_in: int = 7200
) -> responses.BaseResponse:
    answer = {"access_token": token, "expires_in": expires_in}
    match = [matchers.json_params_matcher(TOKEN_REQUEST, strict_match=True)]
    issued: responses.BaseResponse = mock.post(TOKEN_URL, json=answer, match=match)
    return issued


def answer_send(
    mock: responses.RequestsMock, token: str = "TOKEN-A", answer: dict[str, Any] = OK
) -> responses.BaseResponse:
    match = [matchers.query_param_matcher({"access_token": token})]
    answered: responses.BaseResponse = mock.post(SEND_URL, json=answer, match=match)
    return answered


def api(clock: FakeClock | None = None, **kwargs: Any) -> RequestsWeChatApi:
    return RequestsWeChatApi(APPID, SECRET, clock=clock or FakeClock(1000.0), **kwargs)


def test_many_sends_share_one_token_fetch(wechat: responses.RequestsMock) -> None:
    fetch = issue_token(wechat)
    sends = answer_send(wechat)
    client: WeChatMessenger = api()
    for _ in range(5):
        client.send("OPENID", HELLO)
    assert (fetch.call_count, sends.call_count) == (1, 5)


def test_the_token_is_renewed_once_less_than_five_minutes_remain(
    wechat: responses.RequestsMock,
) -> None:
    clock = FakeClock(1000.0)
    first = issue_token(wechat, "TOKEN-A")
    answer_send(wechat, "TOKEN-A")
    client = api(clock)
    client.send("OPENID", HELLO)
    clock.now += 7200 - 301
    client.send("OPENID", HELLO)
    assert first.call_count == 1
    issue_token(wechat, "TOKEN-B")
    answer_send(wechat, "TOKEN-B")
    clock.now += 2
    client.send("OPENID", HELLO)


def test_a_failed_renewal_keeps_the_old_token_only_until_it_expires(
    wechat: responses.RequestsMock,
) -> None:
    clock = FakeClock(1000.0)
    issue_token(wechat, "TOKEN-A")
    sends = answer_send(wechat, "TOKEN-A")
    client = api(clock)
    client.send("OPENID", HELLO)
    wechat.post(TOKEN_URL, json={"errcode": -1, "errmsg": "system error"})
    clock.now += 7000
    client.send("OPENID", HELLO)
    clock.now += 200
    with pytest.raises(WeChatApiError) as failed:
        client.send("OPENID", HELLO)
    assert failed.value.errcode == -1
    assert sends.call_count == 2


def test_a_short_lived_token_is_not_fetched_again_on_every_call(
    wechat: responses.RequestsMock,
) -> None:
    clock = FakeClock(1000.0)
    fetch = issue_token(wechat, expires_in=300)
    answer_send(wechat)
    client = api(clock)
    client.send("OPENID", HELLO)
    clock.now += 100
    client.send("OPENID", HELLO)
    assert fetch.call_count == 1


@pytest.mark.parametrize("errcode", [40001, 42001, 40014])
def test_a_rejected_token_is_replaced_and_the_call_retried_once(
    wechat: responses.RequestsMock, errcode: int
) -> None:
    issue_token(wechat, "TOKEN-A")
    rejected = answer_send(wechat, "TOKEN-A", {"errcode": errcode, "errmsg": "invalid credential"})
    issue_token(wechat, "TOKEN-B")
    accepted = answer_send(wechat, "TOKEN-B")
    api().send("OPENID", HELLO)
    assert (rejected.call_count, accepted.call_count) == (1, 1)


def test_a_token_rejected_twice_fails_without_a_third_attempt(
    wechat: responses.RequestsMock,
) -> None:
    fetch = issue_token(wechat, "TOKEN-A")
    rejected = wechat.post(SEND_URL, json={"errcode": 40001, "errmsg": "invalid credential"})
    with pytest.raises(WeChatApiError) as failed:
        api().send("OPENID", HELLO)
    assert failed.value.errcode == 40001
    assert (fetch.call_count, rejected.call_count) == (2, 2)


def test_a_send_outside_the_window_is_not_retried(wechat: responses.RequestsMock) -> None:
    issue_token(wechat)
    refused = answer_send(wechat, answer={"errcode": 45015, "errmsg": "response out of time"})
    with pytest.raises(WeChatApiError) as failed:
        api().send("OPENID", HELLO)
    assert (failed.value.errcode, failed.value.transient) == (45015, False)
    assert isinstance(failed.value, DeliveryError)
    assert refused.call_count == 1


@pytest.mark.parametrize(
    ("errcode", "kind"),
    [
        (-1, FailureKind.TRANSIENT),
        (45009, FailureKind.TRANSIENT),
        (45011, FailureKind.TRANSIENT),
        (45015, FailureKind.PERMANENT),
        (45047, FailureKind.PERMANENT),
        (40003, FailureKind.PERMANENT),
        (44002, FailureKind.PERMANENT),
        (40164, FailureKind.OPERATOR),
        (40125, FailureKind.OPERATOR),
        (40013, FailureKind.OPERATOR),
        (48001, FailureKind.OPERATOR),
        (40001, FailureKind.OPERATOR),  # still refused with a fresh token
    ],
)
def test_each_errcode_is_classified_for_the_retry_policy(
    wechat: responses.RequestsMock, errcode: int, kind: FailureKind
) -> None:
    issue_token(wechat)
    answer_send(wechat, answer={"errcode": errcode, "errmsg": "refused"})
    with pytest.raises(WeChatApiError) as failed:
        api().send("OPENID", HELLO)
    assert failed.value.kind is kind


def test_an_operator_error_says_what_to_fix(wechat: responses.RequestsMock) -> None:
    issue_token(wechat)
    answer_send(wechat, answer={"errcode": 40164, "errmsg": "invalid ip 1.2.3.4"})
    with pytest.raises(WeChatApiError, match="IP whitelist"):
        api().send("OPENID", HELLO)


def test_a_server_error_page_is_a_transient_api_error(wechat: responses.RequestsMock) -> None:
    issue_token(wechat)
    wechat.post(SEND_URL, status=502, body="<html>Bad Gateway</html>", content_type="text/html")
    with pytest.raises(WeChatApiError) as failed:
        api().send("OPENID", HELLO)
    assert (failed.value.errcode, failed.value.http_status) == (None, 502)
    assert failed.value.transient is True


def test_an_answer_that_is_not_json_is_reported_as_such(wechat: responses.RequestsMock) -> None:
    issue_token(wechat)
    wechat.post(SEND_URL, body="<html>welcome</html>", content_type="text/html")
    with pytest.raises(WeChatBadAnswer, match="not a JSON object"):
        api().send("OPENID", HELLO)


def test_a_send_whose_answer_never_came_is_uncertain(wechat: responses.RequestsMock) -> None:
    issue_token(wechat)
    wechat.post(SEND_URL, body=requests.ReadTimeout("read timed out"))
    with pytest.raises(WeChatUnavailable) as failed:
        api().send("OPENID", HELLO)
    assert failed.value.kind is FailureKind.UNCERTAIN


def test_a_send_that_never_connected_is_transient(wechat: responses.RequestsMock) -> None:
    issue_token(wechat)
    wechat.post(SEND_URL, body=requests.ConnectTimeout("connect timed out"))
    with pytest.raises(WeChatUnavailable) as failed:
        api().send("OPENID", HELLO)
    assert failed.value.kind is FailureKind.TRANSIENT


def test_an_upload_whose_answer_never_came_is_transient(wechat: responses.RequestsMock) -> None:
    issue_token(wechat)
    wechat.post(f"{BASE}/cgi-bin/media/upload", body=requests.ReadTimeout("read timed out"))
    with pytest.raises(WeChatUnavailable) as failed:
        api().upload_image(MediaFile("a.png", "image/png", b"png"))
    assert failed.value.kind is FailureKind.TRANSIENT


def test_every_call_has_a_connect_and_a_read_timeout(wechat: responses.RequestsMock) -> None:
    issue_token(wechat)
    answer_send(wechat)
    api(timeout=(1.5, 4)).send("OPENID", HELLO)
    assert [c.request.req_kwargs["timeout"] for c in wechat.calls] == [(1.5, 4)] * 2  # type: ignore[attr-defined]


def test_a_token_fetch_error_names_the_errcode_but_not_the_secret(
    wechat: responses.RequestsMock,
) -> None:
    wechat.post(TOKEN_URL, json={"errcode": 40164, "errmsg": f"invalid ip, secret {SECRET}"})
    with pytest.raises(WeChatApiError) as failed:
        api().send("OPENID", HELLO)
    assert failed.value.errcode == 40164
    assert SECRET not in str(failed.value)


BODIES = [
    (HELLO, b'{"touser":"OPENID","msgtype":"text","text":{"content":"Hello World"}}'),
    (
        ImageSend("MEDIA_ID"),
        b'{"touser":"OPENID","msgtype":"image","image":{"media_id":"MEDIA_ID"}}',
    ),
    (
        LinkReply("title", "description", "url", "thumbUrl"),
        b'{"touser":"OPENID","msgtype":"link","link":{"title":"title",'
        b'"description":"description","url":"url","thumb_url":"thumbUrl"}}',
    ),
    (
        MiniProgramPageSend("title", "pagePath", "thumbMediaId"),
        b'{"touser":"OPENID","msgtype":"miniprogrampage","miniprogrampage":{"title":"title",'
        b'"pagepath":"pagePath","thumb_media_id":"thumbMediaId"}}',
    ),
]


@pytest.mark.parametrize(("message", "body"), BODIES)
def test_each_message_goes_out_exactly_as_wechat_documents_it(
    wechat: responses.RequestsMock, message: Any, body: bytes
) -> None:
    issue_token(wechat)
    answer_send(wechat)
    api().send("OPENID", message)
    request = wechat.calls[-1].request
    assert request.body == body
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"


def test_chinese_text_goes_out_as_raw_utf8(wechat: responses.RequestsMock) -> None:
    issue_token(wechat)
    answer_send(wechat)
    api().send("OPENID", TextReply("再见，点击下载APP"))
    body = wechat.calls[-1].request.body
    assert isinstance(body, bytes)
    assert "再见，点击下载APP".encode() in body
    assert b"\\u" not in body


TYPING_MATCH = [
    matchers.query_param_matcher({"access_token": "TOKEN-A"}),
    matchers.json_params_matcher({"touser": "OPENID", "command": "Typing"}, strict_match=True),
]
BUSINESS_TYPING_URL = f"{BASE}/cgi-bin/message/custom/business/typing"
OLD_TYPING_URL = f"{BASE}/cgi-bin/message/custom/typing"


def test_typing_is_shown_through_the_mini_program_typing_path(
    wechat: responses.RequestsMock,
) -> None:
    issue_token(wechat)
    wechat.post(BUSINESS_TYPING_URL, json=OK, match=TYPING_MATCH)
    api().set_typing("OPENID")


@pytest.mark.parametrize(
    "no_such_api",
    [
        {"json": {"errcode": 48001, "errmsg": "api unauthorized"}},
        {"json": {"errcode": 40066, "errmsg": "invalid url"}},
        {"status": 404, "body": "<html>404 Not Found</html>"},
    ],
)
def test_when_business_typing_does_not_exist_typing_falls_back_once_for_the_process(
    wechat: responses.RequestsMock, no_such_api: dict[str, Any]
) -> None:
    issue_token(wechat)
    missing = wechat.post(BUSINESS_TYPING_URL, match=TYPING_MATCH, **no_such_api)
    old = wechat.post(OLD_TYPING_URL, json=OK, match=TYPING_MATCH)
    client = api()
    client.set_typing("OPENID")
    client.set_typing("OPENID")
    assert (missing.call_count, old.call_count) == (1, 2)


@pytest.mark.parametrize("errcode", [-1, 45080, 40003])
def test_other_typing_failures_do_not_switch_the_path(
    wechat: responses.RequestsMock, errcode: int
) -> None:
    issue_token(wechat)
    refused = wechat.post(BUSINESS_TYPING_URL, json={"errcode": errcode, "errmsg": "no"})
    client = api()
    for _ in range(2):
        with pytest.raises(WeChatApiError):
            client.set_typing("OPENID")
    assert refused.call_count == 2


def test_an_image_is_uploaded_as_the_media_field_of_type_image(
    wechat: responses.RequestsMock,
) -> None:
    poster = MediaFile("poster.jpg", "image/jpeg", b"\xff\xd8\xff\xe0jpeg")
    issue_token(wechat)
    match = [
        matchers.query_param_matcher({"access_token": "TOKEN-A", "type": "image"}),
        matchers.multipart_matcher({"media": ("poster.jpg", poster.data, "image/jpeg")}),
    ]
    answer = {"type": "image", "media_id": "MEDIA_ID", "created_at": "xxx"}
    wechat.post(f"{BASE}/cgi-bin/media/upload", json=answer, match=match)
    uploader: ImageUploader = api()
    assert uploader.upload_image(poster) == "MEDIA_ID"


def test_an_upload_answer_without_media_id_is_refused(wechat: responses.RequestsMock) -> None:
    issue_token(wechat)
    wechat.post(f"{BASE}/cgi-bin/media/upload", json={"type": "image"})
    with pytest.raises(WeChatBadAnswer, match="media_id"):
        api().upload_image(MediaFile("a.png", "image/png", b"\x89PNG"))


def test_only_the_token_fetch_is_retried_by_the_transport() -> None:
    session = requests.Session()
    api(session=session)
    assert session.get_adapter(TOKEN_URL).max_retries.connect == 2  # type: ignore[attr-defined]
    for path in ("message/custom/send", "message/custom/business/typing", "media/upload"):
        retries = session.get_adapter(f"{BASE}/cgi-bin/{path}").max_retries  # type: ignore[attr-defined]
        assert retries.total == 0


def test_invalidating_an_already_replaced_token_keeps_the_new_one() -> None:
    issued = iter([IssuedToken("OLD", 7200), IssuedToken("NEW", 7200)])
    cache = TokenCache(FakeClock(1000.0))
    assert cache.get(lambda: next(issued)) == "OLD"
    cache.invalidate("OLD")
    assert cache.get(lambda: next(issued)) == "NEW"
    cache.invalidate("OLD")
    assert cache.get(lambda: IssuedToken("UNWANTED", 7200)) == "NEW"


def test_threads_wanting_a_token_at_once_share_one_fetch() -> None:
    fetches: list[int] = []

    def slow_fetch() -> IssuedToken:
        fetches.append(1)
        time.sleep(0.05)
        return IssuedToken("SHARED", 7200)

    cache, seen = TokenCache(FakeClock(1000.0)), []
    threads = [
        threading.Thread(target=lambda: seen.append(cache.get(slow_fetch))) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (len(fetches), seen) == (1, ["SHARED"] * 8)


# --- secrets stay out of logs, reprs and errors, against a real HTTP exchange on 127.0.0.1 ---

LOCAL_TOKEN = "local-access-token-8c1e4f"


class LocalWeChat(BaseHTTPRequestHandler):
    server: LocalServer

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.paths.append(self.path.split("?")[0])
        if self.path.startswith("/cgi-bin/stable_token"):
            self._answer({"access_token": LOCAL_TOKEN, "expires_in": 7200})
        elif self.server.drop_sends:
            self.close_connection = True  # hang up without answering, as a lost reply would
        else:
            self._answer(OK)

    def _answer(self, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test server's own access log is not under test."""


class LocalServer(ThreadingHTTPServer):
    paths: list[str]
    drop_sends: bool


@pytest.fixture
def local() -> Iterator[LocalServer]:
    server = LocalServer(("127.0.0.1", 0), LocalWeChat)
    server.paths, server.drop_sends = [], False
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def local_api(server: LocalServer) -> RequestsWeChatApi:
    host, port = server.server_address[:2]
    return api(base_url=f"http://{host!s}:{port}")


def test_no_secret_reaches_the_logs_even_at_debug(
    local: LocalServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    install_redaction(SECRET)  # as the container's logging resource does in every process
    client = local_api(local)
    client.send("OPENID", HELLO)
    assert "/cgi-bin/message/custom/send?access_token=***" in caplog.text
    assert LOCAL_TOKEN not in caplog.text
    assert SECRET not in caplog.text
    assert SECRET not in repr(client)


def test_a_lost_answer_is_not_sent_again_and_its_error_hides_the_token(
    local: LocalServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    local.drop_sends = True
    with pytest.raises(WeChatUnavailable) as failed:
        local_api(local).send("OPENID", HELLO)
    assert local.paths.count("/cgi-bin/message/custom/send") == 1
    shown = "".join(traceback.format_exception(failed.value))
    assert "custom/send" in shown
    assert LOCAL_TOKEN not in shown
    assert LOCAL_TOKEN not in caplog.text


class FixedToken:
    def get(self, fetch: Any) -> str:
        return LOCAL_TOKEN

    def invalidate(self, token: str) -> None:
        """Nothing to forget: the token is fixed."""


def test_an_unreachable_server_error_hides_the_token_from_message_and_traceback() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = api(base_url=f"http://127.0.0.1:{port}", tokens=FixedToken())
    with pytest.raises(WeChatUnavailable) as failed:
        client.send("OPENID", HELLO)
    shown = "".join(traceback.format_exception(failed.value))
    assert "custom/send?access_token=***" in shown
    assert LOCAL_TOKEN not in shown


def test_the_filter_scrubs_messages_tracebacks_and_registered_secrets() -> None:
    line = '"POST /cgi-bin/media/upload?access_token=%s&type=image" %s {"secret": "%s"} %s'
    args = ("TOKEN-XYZ", 200, "body-secret", "aes-key-literal")
    record = logging.LogRecord("urllib3", logging.DEBUG, __file__, 1, line, args, None)
    try:
        raise RuntimeError("failed: /x?access_token=TOKEN-XYZ")
    except RuntimeError:
        record.exc_info = sys.exc_info()
    assert RedactSecrets("aes-key-literal").filter(record) is True
    text = record.getMessage() + (record.exc_text or "")
    for secret in ("TOKEN-XYZ", "body-secret", "aes-key-literal"):
        assert secret not in text
    assert "access_token=***&type=image" in text


def test_installed_redaction_covers_root_handlers_and_urllib3() -> None:
    handler = logging.NullHandler()
    logging.getLogger().addHandler(handler)
    try:
        installed = install_redaction("another-secret")
        assert installed in handler.filters
        assert installed in logging.getLogger("urllib3.connectionpool").filters
    finally:
        logging.getLogger().removeHandler(handler)


def test_without_an_appsecret_nothing_is_requested_and_the_error_says_why():
    api = RequestsWeChatApi("wx_no_secret", None, base_url="http://127.0.0.1:9")
    with (
        responses.RequestsMock(assert_all_requests_are_fired=True),
        pytest.raises(DeliveryError, match="KEFU_APPSECRET is not set") as failure,
    ):
        api.send("o_user", TextReply("hi"))
    assert failure.value.kind is FailureKind.OPERATOR


def test_short_literals_are_not_masked_so_log_lines_stay_readable():
    assert redact("the token t is tiny", ["t"]) == "the token t is tiny"
    assert redact("secret value abcdef12 here", ["abcdef12"]) == "secret value *** here"
