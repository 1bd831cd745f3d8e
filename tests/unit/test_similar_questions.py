"""Similar questions (相似问法): the document form, the decision, and matching after the ack."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from domain.answering import Acknowledge, AnswerMessage, Transfer
from domain.delivery import DeliverReplies
from domain.dispatch import DeliverNow
from domain.ledger import PushLedger
from domain.messages import TextMessage
from domain.replies import TextReply
from domain.similar import Candidate, MatchTuning, decide
from domain.similar_answering import AnswerQuestion
from domain.similar_document import MAX_QUESTION_CHARS, MAX_SIMILAR
from domain.stats import Hit, asker
from tests.documents import parse_with_re2
from tests.fakes import (
    FakeClock,
    FakeDispatcher,
    FakeHitStats,
    FakeMatchers,
    FakeMediaIds,
    FakeMessenger,
    FakeRuleSource,
    FakeStateStore,
)

PHONE = TextReply("在 App「我的 → 设置」里更换预留手机号")
CARD = TextReply("在 App「我的 → 银行卡」里解绑")
DEFAULT = TextReply("您可以描述得更具体些，或回复 人工")
DOCUMENT: dict[str, object] = {
    "怎么更换手机号": {
        "similar": ["如何更改预留手机号码", "我想换手机号"],
        "reply": {"type": "text", "text": PHONE.content},
    },
    "怎么解绑银行卡": {
        "similar": ["银行卡不用了想解绑"],
        "reply": {"type": "text", "text": CARD.content},
    },
    "1": {"type": "text", "text": "一"},
    "re:人工|客服": {"type": "transfer"},
    "default": {"type": "text", "text": DEFAULT.content},
}


def text(content: str, msg_id: str = "42") -> TextMessage:
    return TextMessage(
        to_user="gh", from_user="user-1", create_time=7, msg_id=msg_id, content=content
    )


def problems(document: Mapping[str, object]) -> list[str]:
    return [str(problem) for problem in parse_with_re2(document).problems]


class Service:
    """The push path and the sender as the service wires them, over in-memory fakes."""

    def __init__(self, document: dict[str, object] = DOCUMENT, broken: bool = False) -> None:
        self.rules = FakeRuleSource(document)
        self.ledger = PushLedger(FakeStateStore())
        self.stats = FakeHitStats()
        self.matchers = FakeMatchers(broken)
        self.queued = FakeDispatcher()
        self.questions = AnswerQuestion(self.rules, self.matchers, self.ledger, self.stats)
        self.messenger = FakeMessenger()
        self.deliver = DeliverReplies(
            FakeMediaIds(), self.messenger, self.ledger, FakeClock(30.0), self.questions
        )
        self.answer = AnswerMessage(self.rules, self.queued, self.ledger, self.stats)

    def ask(self, content: str, msg_id: str = "42") -> list[object]:
        """What the user gets: the push answered, then its queued job sent."""
        self.answer(text(content, msg_id))
        for job in self.queued.jobs:
            self.deliver(job)
        self.queued.jobs.clear()
        return [reply for _, reply in self.messenger.sent]


# --- the document ----------------------------------------------------------------------------


def test_a_key_with_similar_questions_is_a_keyword_and_a_similar_rule():
    parsed = parse_with_re2(DOCUMENT)
    assert parsed.problems == ()
    assert parsed.rules.match(text("怎么更换手机号")).replies == (PHONE,)
    (phone, card) = parsed.rules.similar
    assert phone.texts == ("怎么更换手机号", "如何更改预留手机号码", "我想换手机号")
    assert card.key == "怎么解绑银行卡"


def test_keys_without_similar_never_match_by_similarity():
    assert [rule.key for rule in parse_with_re2(DOCUMENT).rules.similar] == [
        "怎么更换手机号",
        "怎么解绑银行卡",
    ]


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({"similar": [], "reply": {"type": "text", "text": "x"}}, "q.similar: empty list"),
        ({"similar": "问", "reply": {"type": "text", "text": "x"}}, "q.similar: got str"),
        ({"similar": ["问"]}, "q.reply: missing"),
        ({"similar": ["问", " "], "reply": {"type": "text", "text": "x"}}, "q.similar[1]: empty"),
        ({"similar": ["问", "问"], "reply": {"type": "text", "text": "x"}}, "listed twice"),
        (
            {"similar": ["问" * (MAX_QUESTION_CHARS + 1)], "reply": {"type": "text", "text": "x"}},
            f"{MAX_QUESTION_CHARS + 1} characters",
        ),
        (
            {
                "similar": [f"问{n}" for n in range(MAX_SIMILAR + 1)],
                "reply": {"type": "text", "text": "x"},
            },
            f"{MAX_SIMILAR + 1} questions",
        ),
        ({"similar": ["问"], "reply": {"type": "text", "text": "x"}, "score": 1}, "unknown field"),
        ({"similar": ["问"], "reply": {"type": "nope"}}, "q.type: unknown type"),
    ],
)
def test_a_malformed_similar_form_is_reported_and_leaves_the_key_out(value, problem):
    document = {"q": value, "default": {"type": "text", "text": "d"}}
    found = problems(document)
    assert len(found) == 1 and problem in found[0], found
    assert parse_with_re2(document).rules.match(text("q")).key == "default"


def test_a_question_listed_under_two_keys_is_reported_on_the_second():
    document = dict(DOCUMENT)
    document["怎么解绑银行卡"] = {
        "similar": ["我想换手机号"],
        "reply": {"type": "text", "text": "x"},
    }
    assert problems(document) == [
        "怎么解绑银行卡.similar[0]: '我想换手机号' belongs to '怎么更换手机号' already"
        " (expected each question under one key)"
    ]


def test_similar_questions_on_a_transfer_key_are_reported_and_never_matched():
    document = {"人工客服": {"similar": ["我要找人工"], "reply": {"type": "transfer"}}}
    parsed = parse_with_re2(document)
    assert [p.key for p in parsed.problems] == ["人工客服"]
    assert "transfer" in str(parsed.problems[0].problem)
    assert parsed.rules.similar == ()
    assert parsed.rules.match(text("人工客服")).key == "人工客服"  # the exact key still hands over


def test_match_setting_is_read_and_checked():
    document = {**DOCUMENT, "@match": {"threshold": 0.9, "margin": 0.05}}
    assert parse_with_re2(document).rules.tuning == MatchTuning(0.9, 0.05)
    assert problems({**DOCUMENT, "@match": {"threshold": 3}}) == [
        "@match.threshold: 3 is out of range (expected a number from 0.0 to 1.0)"
    ]
    assert problems({**DOCUMENT, "@match": {"cutoff": 1}}) == [
        '@match.cutoff: unknown setting (expected "threshold" or "margin")'
    ]


def test_only_keywords_may_have_similar_questions():
    document = {"default": {"similar": ["问"], "reply": {"type": "text", "text": "x"}}}
    assert problems(document) == [
        "default.similar: only a keyword can have similar questions (expected a keyword)"
    ]


def test_a_document_without_similar_questions_keeps_its_version():
    plain = {"1": {"type": "text", "text": "一"}}
    with_similar = {**plain, "2": {"similar": ["二"], "reply": {"type": "text", "text": "二"}}}
    assert parse_with_re2(plain).rules.version != parse_with_re2(with_similar).rules.version
    assert parse_with_re2(plain).rules.similar == ()


# --- the decision ----------------------------------------------------------------------------


def candidates(*scores: float) -> tuple[Candidate, ...]:
    return tuple(Candidate(f"k{n}", f"q{n}", score) for n, score in enumerate(scores))


def test_a_confident_candidate_far_enough_ahead_answers():
    verdict = decide(candidates(0.6, 0.3), MatchTuning(threshold=0.5, margin=0.1))
    assert verdict.answer == Candidate("k0", "q0", 0.6)
    assert verdict.confidence == pytest.approx((0.6 + 0.5 * 0.3) / 1.5)


def test_the_confidence_weighs_the_lead_so_a_near_tie_is_less_sure_than_its_score():
    assert decide(candidates(0.6, 0.59), MatchTuning()).confidence < 0.6
    assert decide(candidates(0.6), MatchTuning()).confidence == pytest.approx(0.6)
    assert decide(candidates(1.0, 0.0), MatchTuning()).confidence == pytest.approx(1.0)


def test_below_the_threshold_or_the_margin_nothing_answers():
    assert decide(candidates(0.6, 0.55), MatchTuning(threshold=0.6)).answer is None
    assert decide(candidates(0.95, 0.94), MatchTuning(threshold=0.5, margin=0.05)).answer is None
    assert decide((), MatchTuning()).answer is None


# --- matching after the ack ------------------------------------------------------------------


def test_a_paraphrase_gets_the_standard_questions_reply_after_the_ack():
    service = Service()
    assert service.ask("我想更改手机号码") == [PHONE]


def test_the_push_path_only_queues_the_question_with_the_default():
    service = Service()
    assert service.answer(text("我想更改手机号码")) == Acknowledge()
    (job,) = service.queued.jobs
    assert job.question == "我想更改手机号码"
    assert job.replies == (DEFAULT,)
    assert job.rules_version == service.rules.current().version
    assert service.matchers.builds == 0  # nothing was matched while WeChat waited


def test_an_unlike_text_gets_the_default_and_counts_as_unmatched():
    service = Service()
    assert service.ask("今天天气怎么样") == [DEFAULT]
    asked = "今天天气怎么样"
    # with who asked, so a store counts one user's text once a day, as without similar questions
    assert service.stats.hits == [Hit("default", asked, asker("user-1", asked))]


def test_similar_hits_are_counted_apart_from_exact_hits_once_per_push():
    service = Service()
    service.ask("怎么更换手机号", msg_id="1")
    service.ask("我想更改手机号码", msg_id="2")
    job_again = service.answer  # a retried push is not matched or counted again
    job_again(text("我想更改手机号码", msg_id="2"))
    assert service.stats.hits == [Hit("怎么更换手机号"), Hit("怎么更换手机号", similar=True)]


def test_exact_keywords_and_patterns_come_first():
    service = Service()
    assert service.ask("1") == [TextReply("一")]
    assert service.answer(text("我想换手机号找人工", msg_id="7")) == Transfer("user-1", "gh", 7)


def test_a_transfer_is_never_decided_by_similarity():
    document = {
        **DOCUMENT,
        "转人工": {"similar": ["我想换手机号啊"], "reply": {"type": "transfer"}},
    }
    service = Service(document)
    assert service.answer(text("我想换手机号啊")) == Acknowledge()
    service.queued.jobs.clear()
    assert service.ask("我想换手机号啊", msg_id="8") == [PHONE]


def test_one_matcher_per_rules_version():
    service = Service()
    service.ask("我想更改手机号码", msg_id="1")
    service.ask("银行卡想解绑", msg_id="2")
    assert service.matchers.builds == 1


def test_a_failing_matcher_leaves_the_default():
    service = Service(broken=True)
    assert service.ask("我想更改手机号码") == [DEFAULT]


# One key per mistake docs/rules.md lists for similar questions and @match.
_R = {"type": "text", "text": "x"}
DOCUMENTED_MISTAKES: dict[str, object] = {
    "a": {"similar": [], "reply": _R},
    "b": {"similar": [f"问{n}" for n in range(MAX_SIMILAR + 1)], "reply": _R},
    "c": {"similar": ["问" * (MAX_QUESTION_CHARS + 1)], "reply": _R},
    "d": {"similar": ["我想换手机号", "我想换手机号"], "reply": _R},
    "怎么更换手机号": {"similar": ["我想换手机号"], "reply": _R},
    "e": {"similar": ["我想换手机号"], "reply": _R},
    "f": {"similar": ["问f"], "reply": {"type": "transfer"}},
    "default": {"similar": ["问g"], "reply": _R},
    "@match": {"threshold": 3},
}


def test_each_documented_mistake_is_reported_once():
    assert len(parse_with_re2(DOCUMENTED_MISTAKES).problems) == len(DOCUMENTED_MISTAKES) - 1


def test_with_the_queue_down_the_question_is_matched_in_the_request():
    service = Service()
    inline = AnswerMessage(service.rules, DeliverNow(service.deliver), service.ledger)
    inline(text("我想更改手机号码"))
    assert [reply for _, reply in service.messenger.sent] == [PHONE]
