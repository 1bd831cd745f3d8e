"""The answer use case counts which rule answered, and what no rule knew, once per push."""

import logging

import pytest

from domain.answering import AnswerMessage
from domain.ledger import PushLedger
from domain.messages import EnterSessionEvent, ImageMessage, TextMessage
from domain.stats import ASKER_HEX, UNMATCHED_CHARS, Hit, NoHitStats, asker, ranked
from tests.fakes import FakeDispatcher, FakeHitStats, FakeRuleSource, FakeStateStore

DOCUMENT = {
    "@enter": {"type": "text", "text": "hi"},
    "App": {"type": "text", "text": "app"},
    "re:下载|安装": {"type": "text", "text": "download"},
    "人工": {"type": "transfer"},
    "default": {"type": "text", "text": "再见"},
}


def text(content: str, msg_id: str = "1") -> TextMessage:
    return TextMessage(to_user="gh", from_user="u", create_time=7, msg_id=msg_id, content=content)


def answering(document=DOCUMENT, stats=None):
    stats = stats if stats is not None else FakeHitStats()
    answer = AnswerMessage(
        FakeRuleSource(document), FakeDispatcher(), PushLedger(FakeStateStore()), stats
    )
    return answer, stats


@pytest.mark.parametrize(
    ("typed", "hit"),
    [
        (" ａｐｐ ", Hit("App")),
        ("怎么下载", Hit("re:下载|安装")),
        ("人工", Hit("人工")),
        ("  Hello WORLD ", Hit("default", "hello world", asker("u", "hello world"))),
    ],
)
def test_each_message_counts_the_rule_key_as_written_and_unmatched_text_normalised(typed, hit):
    answer, stats = answering()
    answer(text(typed))
    assert stats.hits == [hit]


def test_unmatched_text_is_kept_to_64_characters():
    answer, stats = answering()
    answer(text("问" * 100))
    kept = "问" * UNMATCHED_CHARS
    assert stats.hits == [Hit("default", kept, asker("u", kept))]


def test_unmatched_text_is_counted_even_without_a_default():
    answer, stats = answering({"1": {"type": "text", "text": "one"}})
    answer(text("2"))
    assert stats.hits == [Hit(None, "2", asker("u", "2"))]


def test_an_unmatched_text_names_its_asker_by_a_short_hash_of_user_and_text_only():
    openid = "o6_bmjrPTlm6_2sgVt7hMZOPfL2M"
    mine = asker(openid, "价格")
    assert len(mine) == ASKER_HEX and openid not in mine and openid[:8] not in mine
    assert mine == asker(openid, "价格")  # the same user asking again is the same asker
    assert len({mine, asker("o_other", "价格"), asker(openid, "下载")}) == 3
    assert asker("a:1", "x") != asker("a", ":1x")  # user and text cannot be run together
    assert len(asker("o_\ud800", "\udfff")) == ASKER_HEX  # a forged push's lone surrogates


def test_entering_and_pictures_count_their_rule_without_text():
    answer, stats = answering()
    answer(EnterSessionEvent(to_user="gh", from_user="u", create_time=7))
    answer(ImageMessage(to_user="gh", from_user="u", create_time=8, msg_id="9"))
    assert stats.hits == [Hit("@enter"), Hit("default")]


def test_an_event_nothing_answers_counts_nothing():
    answer, stats = answering({"1": {"type": "text", "text": "one"}})
    answer(EnterSessionEvent(to_user="gh", from_user="u", create_time=7))
    assert stats.hits == []


def test_wechats_retries_of_one_push_count_once():
    answer, stats = answering()
    for _ in range(3):
        answer(text("App", msg_id="5"))
    answer(text("App", msg_id="6"))
    assert stats.hits == [Hit("App"), Hit("App")]


def test_a_failing_statistics_store_costs_no_reply_and_is_logged_once(caplog):
    dispatcher = FakeDispatcher()
    answer = AnswerMessage(
        FakeRuleSource(DOCUMENT),
        dispatcher,
        PushLedger(FakeStateStore()),
        FakeHitStats(broken=True),
    )
    with caplog.at_level(logging.WARNING):
        for n in range(3):
            answer(text("App", msg_id=str(n)))
    assert len(dispatcher.jobs) == 3
    warnings = [r for r in caplog.records if "statistics" in r.getMessage()]
    assert len(warnings) == 1


def test_stats_off_keeps_nothing():
    off = NoHitStats()
    off.record(Hit("1", "x"))
    assert off.days(7) == ()


def test_ranking_puts_most_frequent_first_and_ties_in_text_order():
    counts = {"b": 2, "a": 2, "c": 5, "d": 1}
    assert ranked(counts) == (("c", 5), ("a", 2), ("b", 2), ("d", 1))
    assert ranked(counts, 2) == (("c", 5), ("a", 2))
