"""HttpCmsRuleSource against a mocked CMS: last good rules, saved copy, ETags, one refresh."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
from responses import matchers

from adapters.rules.cms import HttpCmsRuleSource
from adapters.rules.errors import RulesFetchError
from domain.errors import RulesUnavailable
from domain.replies import ImageRef, ImageReply, LinkReply, TextReply
from domain.rules import Match
from tests.documents import CONTRACT_DOCUMENT
from tests.fakes import FakeClock

URL = "http://127.0.0.1:8999/cms/rules?token=s3cret"
EXAMPLE = CONTRACT_DOCUMENT
CHANGED = {**EXAMPLE, "1": {"type": "text", "text": "新的回复"}}
TTL = 60.0


def inline(work: Callable[[], None]) -> None:
    work()


@pytest.fixture
def cms() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1000.0)


@pytest.fixture
def make_source(tmp_path, clock):
    def make(**overrides) -> HttpCmsRuleSource:
        options = {"state_dir": tmp_path / "state", "clock": clock, "spawn": inline, **overrides}
        return HttpCmsRuleSource(URL, TTL, **options)

    return make


def reply_to(source: HttpCmsRuleSource, text: str):
    match = source.current().match_text(text)
    return match.replies if match else source.current().default


def messages(caplog, fragment: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if fragment in r.getMessage()]


@pytest.mark.parametrize(
    "document", [EXAMPLE, {"data": EXAMPLE, "code": 0}], ids=["bare", "wrapped"]
)
def test_the_contract_example_answers_bare_or_wrapped(cms, make_source, document):
    cms.get(URL, json=document)
    source = make_source()
    source.load()
    assert reply_to(source, "１") == (
        LinkReply(
            "点击下载APP",
            "注册领取红包",
            "https://example.com/app.html",
            "https://example.com/thumb.png",
        ),
    )
    assert reply_to(source, "3") == (ImageReply(ImageRef("/cms/poster02.png")),)
    assert reply_to(source, "你好") == (TextReply("再见"),)


FAILURES = {
    "http 500": {"status": 500},
    "timeout": {"body": requests.exceptions.ReadTimeout()},
    "connection refused": {"body": requests.exceptions.ConnectionError()},
    "html page": {"body": "<html><body>502 Bad Gateway</body></html>", "content_type": "text/html"},
    "empty list": {"json": []},
    "invalid json": {"body": '{"1": ', "content_type": "application/json"},
    "error envelope": {"json": {"code": 500, "msg": "internal error", "data": None}},
}


@pytest.mark.parametrize("failure", FAILURES.values(), ids=FAILURES.keys())
def test_last_good_rules_keep_answering_when_the_cms_fails(cms, make_source, clock, failure):
    cms.get(URL, json=EXAMPLE)
    cms.get(URL, **failure)
    source = make_source()
    source.load()
    clock.advance(TTL + 1)
    assert reply_to(source, "你好") == (TextReply("再见"),)
    assert len(cms.calls) == 2


def test_a_restart_during_an_outage_answers_from_the_saved_copy(cms, make_source):
    cms.get(URL, json=EXAMPLE)
    first = make_source()
    first.load()
    cms.replace(responses.GET, URL, status=503)
    restarted = make_source()
    restarted.load()
    assert restarted.current() == first.current()


def test_the_saved_copy_is_written_whole_with_no_temporary_files_left(cms, make_source, tmp_path):
    cms.get(URL, json=EXAMPLE, headers={"ETag": '"v1"'})
    make_source().load()
    state = tmp_path / "state"
    assert sorted(p.name for p in state.iterdir()) == ["rules.json", "rules.meta.json"]
    assert json.loads((state / "rules.json").read_text()) == EXAMPLE
    assert "s3cret" not in (state / "rules.meta.json").read_text()


def test_a_restart_asks_the_cms_whether_the_saved_copy_is_still_current(cms, make_source):
    cms.get(URL, json=EXAMPLE, headers={"ETag": '"v1"'})
    cms.get(URL, status=304, match=[matchers.header_matcher({"If-None-Match": '"v1"'})])
    make_source().load()
    restarted = make_source()
    restarted.load()
    assert reply_to(restarted, "你好") == (TextReply("再见"),)


def test_a_saved_copy_from_another_cms_url_is_not_used(cms, make_source, tmp_path):
    cms.get(URL, json=EXAMPLE)
    make_source().load()
    other = HttpCmsRuleSource("http://127.0.0.1:8999/other", TTL, tmp_path / "state", spawn=inline)
    cms.get("http://127.0.0.1:8999/other", status=500)
    other.load()
    with pytest.raises(RulesUnavailable):
        other.current()


def test_a_state_folder_that_cannot_be_written_costs_the_copy_not_the_rules(
    cms, make_source, tmp_path, caplog
):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    cms.get(URL, json=EXAMPLE)
    source = make_source(state_dir=blocked)
    source.load()
    assert reply_to(source, "你好") == (TextReply("再见"),)
    assert len(messages(caplog, "could not save rules")) == 1


def test_with_no_rules_ever_the_cms_is_retried_with_backoff_not_per_push(cms, make_source, clock):
    cms.get(URL, status=503)
    source = make_source()
    source.load()
    for wait, calls in [(0.5, 1), (0.6, 2), (1.5, 2), (0.6, 3), (3.9, 3), (0.2, 4)]:
        clock.advance(wait)
        with pytest.raises(RulesUnavailable):
            source.current()
        assert len(cms.calls) == calls, f"after {wait}s more"
    cms.replace(responses.GET, URL, json=EXAMPLE)
    clock.advance(8.1)
    assert reply_to(source, "你好") == (TextReply("再见"),)


def test_the_backoff_stops_growing_at_a_minute(cms, make_source, clock):
    cms.get(URL, status=503)
    source = make_source()
    source.load()
    for _ in range(10):
        clock.advance(60.1)
        with pytest.raises(RulesUnavailable):
            source.current()
    assert len(cms.calls) == 11


def test_an_unchanged_document_costs_a_304_and_no_reparse(cms, make_source, clock):
    modified = "Wed, 21 Oct 2025 07:28:00 GMT"
    cms.get(URL, json=EXAMPLE, headers={"ETag": '"v1"', "Last-Modified": modified})
    conditional = {"If-None-Match": '"v1"', "If-Modified-Since": modified}
    cms.get(URL, status=304, match=[matchers.header_matcher(conditional)])
    checked: list[ImageRef] = []
    source = make_source(check_image=lambda ref: checked.append(ref))
    source.load()
    rules, parses = source.current(), len(checked)
    clock.advance(TTL + 1)
    assert source.current() is rules
    assert len(checked) == parses
    assert "If-None-Match" not in cms.calls[0].request.headers
    clock.advance(TTL - 1)
    source.current()
    assert len(cms.calls) == 2, "a 304 starts a new ttl"


def test_a_changed_document_is_in_force_once_the_ttl_has_passed(cms, make_source, clock):
    cms.get(URL, json=EXAMPLE)
    cms.get(URL, json=CHANGED)
    source = make_source()
    source.load()
    clock.advance(TTL - 1)
    assert reply_to(source, "1")[0].title == "点击下载APP"
    clock.advance(2)
    assert reply_to(source, "1") == (TextReply("新的回复"),)


def test_only_one_refresh_runs_at_a_time_and_pushes_do_not_wait_for_it(make_source, clock):
    release = threading.Event()
    refreshes: list[threading.Thread] = []

    def spawn(work):
        refreshes.append(threading.Thread(target=work))
        refreshes[-1].start()

    def slow_cms(request):
        release.wait(5)
        return 200, {}, json.dumps(CHANGED)

    with responses.RequestsMock(assert_all_requests_are_fired=True) as cms:
        cms.get(URL, json=EXAMPLE)
        cms.add_callback(responses.GET, URL, callback=slow_cms)
        source = make_source(spawn=spawn)
        source.load(wait=True)
        clock.advance(TTL + 1)
        answers: list[object] = []
        pushes = [threading.Thread(target=lambda: answers.append(reply_to(source, "1")))]
        pushes.append(threading.Thread(target=lambda: answers.append(reply_to(source, "1"))))
        for push in pushes:
            push.start()
        for push in pushes:
            push.join(2)
        assert [a[0].title for a in answers] == ["点击下载APP", "点击下载APP"]  # type: ignore[index]
        release.set()
        for refresh in refreshes:
            refresh.join(5)
        assert len(refreshes) == 1
        assert len(cms.calls) == 2
        assert reply_to(source, "1") == (TextReply("新的回复"),)


def test_pushes_during_the_first_load_get_no_rules_instead_of_waiting(make_source):
    started, release = threading.Event(), threading.Event()

    def slow_cms(request):
        started.set()
        release.wait(5)
        return 200, {}, json.dumps(EXAMPLE)

    with responses.RequestsMock(assert_all_requests_are_fired=True) as cms:
        cms.add_callback(responses.GET, URL, callback=slow_cms)
        source = make_source()
        loading = threading.Thread(target=source.load)
        loading.start()
        assert started.wait(5)
        with pytest.raises(RulesUnavailable):
            source.current()
        release.set()
        loading.join(5)
        assert reply_to(source, "你好") == (TextReply("再见"),)
        assert len(cms.calls) == 1


def test_a_failure_episode_is_logged_once_not_per_push(cms, make_source, clock, caplog):
    caplog.set_level(logging.INFO)
    cms.get(URL, json=EXAMPLE)
    cms.get(URL, status=500)
    source = make_source()
    source.load()

    def push_for_three_ttls() -> None:
        for _ in range(3):
            clock.advance(TTL + 1)
            for _ in range(5):
                source.current()

    push_for_three_ttls()
    assert len(messages(caplog, "unavailable")) == 1
    cms.replace(responses.GET, URL, json=EXAMPLE)
    push_for_three_ttls()
    assert len(messages(caplog, "available again")) == 1
    cms.replace(responses.GET, URL, body=requests.exceptions.ReadTimeout())
    push_for_three_ttls()
    assert len(messages(caplog, "unavailable")) == 2, "a new episode is logged again"
    assert len(messages(caplog, "rules version")) == 1, "the same version is not announced again"
    assert "s3cret" not in caplog.text


def test_a_changed_failure_reason_within_an_outage_gets_its_own_line(
    cms, make_source, clock, caplog
):
    caplog.set_level(logging.INFO)
    cms.get(URL, json=EXAMPLE)
    source = make_source()
    source.load()
    failures: list[dict[str, Any]] = [
        {"status": 500},
        {"status": 500},
        {"body": "<html>maintenance</html>", "content_type": "text/html"},
        {"json": []},
        {"body": requests.exceptions.ReadTimeout()},
        {"body": requests.exceptions.ConnectionError("refused")},
    ]
    for failure in failures:
        cms.replace(responses.GET, URL, **failure)
        clock.advance(TTL + 1)
        source.current()
    lines = messages(caplog, "unavailable")
    assert [line.split(": ", 1)[1].split(";")[0] for line in lines] == [
        "HTTP 500",
        "not JSON (Expecting value: line 1 column 1 (char 0))",
        "expected a JSON object, got list",
        "timed out",
        "request failed (ConnectionError)",
    ]
    assert all(line.endswith(f"keeping version {source.current().version}") for line in lines)


def test_each_rules_version_is_logged_once_with_its_rejected_keys(cms, make_source, clock, caplog):
    caplog.set_level(logging.INFO)
    broken = {**EXAMPLE, "4": {"type": "video"}}
    cms.get(URL, json=broken)
    cms.get(URL, json=broken)
    cms.get(URL, json=CHANGED)
    source = make_source()
    source.load()
    clock.advance(TTL + 1)
    source.current()
    version = source.current().version
    assert messages(caplog, "rules version") == [
        f"rules version {version}: 4 keywords, 1 rejected (http://127.0.0.1:8999/cms/rules)",
        f"rules version {version} rejected 4.type: unknown type 'video' "
        "(expected text, link, image, miniprogrampage or transfer)",
    ]
    clock.advance(TTL + 1)
    source.current()
    assert len(messages(caplog, ": 4 keywords, 0 rejected")) == 1


def test_rules_check_fetches_now_and_reports_every_problem_by_key(cms, make_source):
    cms.get(URL, json={**EXAMPLE, "4": {"type": "video"}, "@bye": {"type": "text", "text": "x"}})
    report = make_source().check()
    assert sorted(problem.key for problem in report.problems) == ["4", "@bye"]


@pytest.mark.parametrize(
    ("failure", "reason"),
    [({"status": 404}, "HTTP 404"), ({"body": requests.exceptions.ConnectTimeout()}, "timed out")],
)
def test_rules_check_names_what_went_wrong_without_the_url_secret(
    cms, make_source, failure, reason
):
    cms.get(URL, **failure)
    with pytest.raises(RulesFetchError) as caught:
        make_source().check()
    assert caught.value.reason == reason
    assert "s3cret" not in str(caught.value)
    assert isinstance(caught.value, RulesUnavailable)


def test_a_cms_change_is_in_force_within_the_ttl_even_when_no_push_comes(tmp_path: Path) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as cms:
        cms.get(URL, json=EXAMPLE)
        source = HttpCmsRuleSource(URL, ttl=0.2, state_dir=tmp_path, keep_fresh=True)
        source.load()
        try:
            cms.replace(responses.GET, URL, json=CHANGED)
            deadline = time.monotonic() + 5
            while len(cms.calls) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)  # nothing asks for the rules meanwhile: the watcher fetches
            assert len(cms.calls) >= 2
            assert source.current().match_text("1") == Match("1", (TextReply("新的回复"),))
        finally:
            source.close()
