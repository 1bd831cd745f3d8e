"""Random and mutated pushes never crash the callback and never reach WeChat."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import responses
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.wechat_push.fields import PushFormat
from entrypoints.cli.push_simulator import Mode
from tests.e2e.conftest import CMS_URL, Service, running_service, safe_mode_settings

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
