"""Random and mutated pushes never crash the callback and never reach WeChat."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import falcon.testing
import pytest
import responses
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.logs.formats import KefuLogHandler
from adapters.wechat_push.encoding import encode_message
from adapters.wechat_push.fields import PushFormat
from entrypoints.cli.push_simulator import Mode
from tests.e2e.conftest import (
    CMS_URL,
    Service,
    mock_wechat,
    running_service,
    safe_mode_settings,
)

# No default and no keyword the fuzzed text can hit: a push that stays genuine sends nothing either.
QUIET_RULES = {"only-this-exact-keyword-2026": {"type": "text", "text": "x"}}
REFUSALS = {400, 403, 413}


@pytest.fixture(scope="module")
def quiet_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    root: Path = tmp_path_factory.mktemp("fuzz")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.get(CMS_URL, json=QUIET_RULES)
        with running_service(safe_mode_settings(root, root / "state"), rsps) as service:
            yield service


def genuine(service: Service, fmt: PushFormat):
    return service.simulator.build(service.simulator.text("hello", "o_fuzz"), fmt, Mode.SAFE)


def mutate(data: bytes, position: int, replacement: bytes) -> bytes:
    position %= max(len(data), 1)
    return data[:position] + replacement + data[position + len(replacement) :]


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(
    body=st.binary(max_size=2048),
    params=st.dictionaries(st.text(max_size=20), st.text(max_size=60)),
)
def test_random_bodies_and_query_strings_are_refused_cleanly(quiet_service, body, params):
    answer = quiet_service.client.simulate_post("/wechat/callback", params=params, body=body)
    assert answer.status_code in REFUSALS
    assert quiet_service.outbound_to_wechat() == 0


@FUZZ
@given(body=st.binary(max_size=2048), genuine_body=st.booleans())
def test_chunked_bodies_are_read_and_refused_or_answered_cleanly(quiet_service, body, genuine_body):
    push = genuine(quiet_service, PushFormat.JSON)
    answer = quiet_service.client.simulate_post(
        "/wechat/callback",
        params=push.params,
        body=push.body if genuine_body else body,
        headers={"Transfer-Encoding": "chunked"},
        extras={"CONTENT_LENGTH": ""},  # no length: the server de-chunks the stream
    )
    assert answer.status_code in ({200} if genuine_body else REFUSALS)
    assert quiet_service.outbound_to_wechat() == 0


# Any code point, lone surrogates (U+D800..U+DFFF) included: JSON can spell them as escapes.
ANY_CHARACTER = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF) | st.characters()


@FUZZ
@given(
    name=st.sampled_from(["Encrypt", "ToUserName", "MsgType", "Content"]),
    value=st.text(alphabet=ANY_CHARACTER, max_size=40),
)
def test_lone_surrogates_anywhere_in_a_json_body_are_refused_cleanly(quiet_service, name, value):
    push = genuine(quiet_service, PushFormat.JSON)
    fields = {**json.loads(push.body), name: value}
    answer = quiet_service.send(push, body=json.dumps(fields).encode())
    assert answer.status_code in REFUSALS | {200}
    assert quiet_service.outbound_to_wechat() == 0


@FUZZ
@given(
    fmt=st.sampled_from(list(PushFormat)),
    position=st.integers(min_value=0),
    replacement=st.binary(min_size=1, max_size=8),
)
def test_mutated_genuine_pushes_never_crash_and_never_send(
    quiet_service, fmt, position, replacement
):
    push = genuine(quiet_service, fmt)
    body = mutate(push.body, position, replacement)
    answer = quiet_service.send(push, body=body)
    assert answer.status_code in REFUSALS | {200}
    assert quiet_service.outbound_to_wechat() == 0


@FUZZ
@given(
    # `signature` is left out: in safe mode it covers no body and is rightly not relied on.
    name=st.sampled_from(["timestamp", "nonce", "msg_signature", "encrypt_type"]),
    value=st.text(max_size=200),
)
def test_mutated_query_parameters_are_refused(quiet_service, name, value):
    push = genuine(quiet_service, PushFormat.JSON)
    answer = quiet_service.send(push, params={**push.params, name: value})
    original = push.params.get(name)
    assert answer.status_code in (REFUSALS if value != original else {200})
    assert quiet_service.outbound_to_wechat() == 0


@pytest.mark.parametrize(
    "content_type",
    ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "image/png"],
)
def test_wrong_content_types_are_bad_requests(quiet_service, content_type):
    push = genuine(quiet_service, PushFormat.JSON)
    answer = quiet_service.client.simulate_post(
        "/wechat/callback",
        params=push.params,
        body=push.body,
        headers={"Content-Type": content_type},
    )
    assert answer.status_code == 400


def test_the_service_still_answers_after_the_fuzzing(quiet_service):
    push = genuine(quiet_service, PushFormat.XML)
    assert quiet_service.send(push).text == "success"
    assert quiet_service.client.simulate_get("/healthz").status_code == 200


# Inside a genuine push: the service answers, replies go out, and every line it logs is one line
# of valid UTF-8 whatever the decrypted fields hold.
ANSWERING_RULES = {
    "hello": {"type": "text", "text": "hi"},
    "default": {"type": "text", "text": "?"},
}
CONTROLS = st.characters(max_codepoint=0x1F) | st.characters(min_codepoint=0x7F, max_codepoint=0x9F)
FIELD_TEXT = st.text(alphabet=ANY_CHARACTER | CONTROLS, max_size=60) | st.builds(
    lambda c, n: c * n, st.sampled_from(["a", "用", "\ud800", "\x1b"]), st.integers(1, 8_000)
)
XML_TEXT = st.text(alphabet=st.characters(codec="utf-8") | CONTROLS, max_size=60)


@pytest.fixture(scope="module")
def answering_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    root: Path = tmp_path_factory.mktemp("fuzz-answering")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        mock_wechat(rsps, ANSWERING_RULES)
        with running_service(safe_mode_settings(root, root / "state"), rsps) as service:
            yield service


@contextmanager
def kefus_log_lines() -> Iterator[io.StringIO]:
    """What kefu's own log handler writes meanwhile (with its filters and formatter)."""
    handler = next(h for h in logging.getLogger().handlers if isinstance(h, KefuLogHandler))
    lines = io.StringIO()
    previous = handler.setStream(lines)
    try:
        yield lines
    finally:
        handler.setStream(previous)


def decrypted_fields(text: st.SearchStrategy[str]) -> st.SearchStrategy[dict[str, str | int]]:
    # FromUserName must be there, as in every push; any field may hold any text.
    return st.fixed_dictionaries(
        {"FromUserName": text, "MsgType": st.sampled_from(["text", "image", "event"]) | text},
        optional={
            "ToUserName": text,
            "Content": text,
            "MsgId": text | st.integers(min_value=0, max_value=2**63),
            "CreateTime": text | st.integers(min_value=0, max_value=2**40),
            "Event": st.just("user_enter_tempsession") | text,
            "SessionFrom": text,
            "PicUrl": text,
            "MediaId": text,
        },
    )


def assert_answered_and_logged_cleanly(answer: falcon.testing.Result, log: str) -> None:
    assert answer.status_code in {200, 400, 413}, answer.text
    if answer.status_code == 200:
        assert answer.text == "success"
    log.encode("utf-8")  # no lone surrogate reached a log line
    for line in log.split("\n"):
        assert not any((ord(c) < 0x20 and c != "\t") or 0x7F <= ord(c) <= 0x9F for c in line), line


@FUZZ
@given(fields=decrypted_fields(FIELD_TEXT), ascii_only=st.booleans())
def test_any_text_inside_a_genuine_json_push_is_answered_or_refused(
    answering_service, fields, ascii_only
):
    # JSON can carry lone surrogates only as \\u escapes; otherwise either spelling is WeChat's.
    message = json.dumps(fields, ensure_ascii=ascii_only)
    if not message.isascii() and not _utf8(message):
        message = json.dumps(fields)
    push = answering_service.simulator.build_text(message, PushFormat.JSON)
    with kefus_log_lines() as log:
        answer = answering_service.send(push)
    assert_answered_and_logged_cleanly(answer, log.getvalue())


@FUZZ
@given(fields=decrypted_fields(XML_TEXT))
def test_any_text_inside_a_genuine_xml_push_is_answered_or_refused(answering_service, fields):
    push = answering_service.simulator.build_text(
        encode_message(PushFormat.XML, fields), PushFormat.XML
    )
    with kefus_log_lines() as log:
        answer = answering_service.send(push)
    assert_answered_and_logged_cleanly(answer, log.getvalue())


def test_a_lone_surrogate_in_the_sender_is_answered_success_and_replied_to(answering_service):
    fields = {**answering_service.simulator.text("hello", "o_user"), "FromUserName": "o_\ud800x"}
    push = answering_service.simulator.build_text(json.dumps(fields), PushFormat.JSON)
    before = len(answering_service.sent())
    answer = answering_service.send(push)
    assert (answer.status_code, answer.text) == (200, "success")
    assert [s["touser"] for s in answering_service.sent()[before:]] == ["o_\ufffdx"]


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
