"""FileRuleSource against real files: edits picked up after the ttl, broken files survived."""

from __future__ import annotations

import itertools
import json
import logging
import os

import pytest

from adapters.rules.errors import RulesFetchError
from adapters.rules.file import FileRuleSource
from domain.errors import RulesUnavailable
from domain.replies import ImageRef, ImageReply, TextReply
from tests.documents import CONTRACT_DOCUMENT
from tests.fakes import FakeClock

EXAMPLE = CONTRACT_DOCUMENT
TTL = 5.0
_mtimes = itertools.count(1_700_000_000)


def save(path, content: object) -> None:
    """Write the file with a distinct mtime, as an editor saving seconds later would."""
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    mtime = next(_mtimes) * 1_000_000_000
    os.utime(path, ns=(mtime, mtime))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1000.0)


@pytest.fixture
def rules_file(tmp_path):
    return tmp_path / "rules.json"


def reply_to(source: FileRuleSource, text: str):
    match = source.current().match_text(text)
    return match.replies if match else source.current().default


def messages(caplog, fragment: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if fragment in r.getMessage()]


def test_the_file_source_answers_with_the_contract_example(rules_file, clock):
    save(rules_file, {"data": EXAMPLE, "code": 0})
    source = FileRuleSource(rules_file, TTL, clock=clock)
    source.load()
    assert reply_to(source, "3") == (ImageReply(ImageRef("/cms/poster02.png")),)
    assert reply_to(source, "你好") == (TextReply("再见"),)


def test_an_edited_file_is_in_force_once_the_ttl_has_passed(rules_file, clock):
    save(rules_file, EXAMPLE)
    source = FileRuleSource(rules_file, TTL, clock=clock)
    source.load()
    save(rules_file, {**EXAMPLE, "default": {"type": "text", "text": "改了"}})
    clock.advance(TTL - 1)
    assert reply_to(source, "你好") == (TextReply("再见"),)
    clock.advance(2)
    assert reply_to(source, "你好") == (TextReply("改了"),)


def test_an_unchanged_file_is_not_parsed_again(rules_file, clock):
    save(rules_file, EXAMPLE)
    checked: list[ImageRef] = []
    source = FileRuleSource(
        rules_file, TTL, check_image=lambda ref: checked.append(ref), clock=clock
    )
    rules, parses = source.current(), len(checked)
    clock.advance(TTL + 1)
    assert source.current() is rules
    assert len(checked) == parses


@pytest.mark.parametrize("broken", ['{"1": ', "[]", '"just text"', "{}"])
def test_a_broken_file_keeps_the_last_good_rules_and_is_logged_once(
    rules_file, clock, caplog, broken
):
    caplog.set_level(logging.INFO)
    save(rules_file, EXAMPLE)
    source = FileRuleSource(rules_file, TTL, clock=clock)
    source.load()
    save(rules_file, broken)
    for _ in range(4):
        clock.advance(TTL + 1)
        assert reply_to(source, "你好") == (TextReply("再见"),)
    assert len(messages(caplog, "unavailable")) == 1
    save(rules_file, {**EXAMPLE, "default": {"type": "text", "text": "修好了"}})
    clock.advance(TTL + 1)
    assert reply_to(source, "你好") == (TextReply("修好了"),)
    assert len(messages(caplog, "available again")) == 1


def test_a_missing_file_means_no_rules_until_it_appears(rules_file, clock, caplog):
    source = FileRuleSource(rules_file, TTL, clock=clock)
    source.load()
    with pytest.raises(RulesUnavailable, match="No such file"):
        source.current()
    save(rules_file, EXAMPLE)
    clock.advance(TTL + 1)
    assert reply_to(source, "你好") == (TextReply("再见"),)
    assert len(messages(caplog, "unavailable")) == 1


def test_each_rules_version_is_logged_once_with_its_rejected_keys(rules_file, clock, caplog):
    caplog.set_level(logging.INFO)
    save(rules_file, {**EXAMPLE, "@bye": {"type": "text", "text": "x"}})
    source = FileRuleSource(rules_file, TTL, clock=clock)
    source.load()
    save(rules_file, {"@bye": {"type": "text", "text": "x"}, **EXAMPLE})  # same rules, reordered
    clock.advance(TTL + 1)
    source.current()
    assert len(messages(caplog, ": 4 keywords, 1 rejected")) == 1
    assert len(messages(caplog, "rejected @bye: unknown special key")) == 1


def test_rules_check_reads_the_file_now_and_reports_every_problem(rules_file, clock):
    save(rules_file, {**EXAMPLE, "4": {"type": "video"}})
    report = FileRuleSource(rules_file, TTL, clock=clock).check()
    assert [problem.key for problem in report.problems] == ["4"]


def test_rules_check_on_a_missing_file_names_the_file(rules_file, clock):
    with pytest.raises(RulesFetchError) as caught:
        FileRuleSource(rules_file, TTL, clock=clock).check()
    assert caught.value.source == str(rules_file)
