"""Pushes that come before any rules are in force: acknowledged at once, answered by the sender
once the rules arrive, never lost and never answered twice."""

from __future__ import annotations

from domain.answering import Acknowledge, AnswerMessage
from domain.delivery import DeliverReplies
from domain.late_answering import AnswerWhenRulesArrive
from domain.ledger import PushLedger
from domain.messages import EnterSessionEvent, TextMessage
from domain.replies import TextReply
from domain.retry import GiveUp, RetryLater, RetryPolicy
from domain.sending import Delivered, Outcome, SendQueuedReplies
from domain.similar_answering import AnswerQuestion
from domain.stats import Hit
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

CREATED = 1_700_000_000
DOCUMENT: dict[str, object] = {
    "1": {"type": "text", "text": "一"},
    "怎么更换手机号": {
        "similar": ["我想换手机号"],
        "reply": {"type": "text", "text": "在 App 里更换"},
    },
    "人工": [{"type": "text", "text": "请稍候"}, {"type": "transfer"}],
    "@enter": {"type": "text", "text": "欢迎"},
    "default": {"type": "text", "text": "再见"},
}


def text(content: str, msg_id: str = "42") -> TextMessage:
    return TextMessage(
        to_user="gh", from_user="user-1", create_time=CREATED, msg_id=msg_id, content=content
    )


class Service:
    """The push path and the sender as the service wires them, the rules not loaded yet."""

    def __init__(self) -> None:
        self.rules = FakeRuleSource(None)
        self.ledger = PushLedger(FakeStateStore())
        self.stats = FakeHitStats()
        self.queued = FakeDispatcher()
        self.messenger = FakeMessenger()
        self.clock = FakeClock(CREATED + 1.0)
        questions = AnswerQuestion(self.rules, FakeMatchers(), self.ledger, self.stats)
        late = AnswerWhenRulesArrive(self.rules, self.ledger, questions, self.stats)
        deliver = DeliverReplies(FakeMediaIds(), self.messenger, self.ledger, self.clock, late)
        self.send = SendQueuedReplies(deliver, RetryPolicy(jitter=lambda: 0.0), self.clock)
        self.answer = AnswerMessage(self.rules, self.queued, self.ledger, self.stats)

    def rules_arrive(self) -> None:
        self.rules.rules = parse_with_re2(DOCUMENT).rules

    def attempt(self, attempts: int = 1) -> list[Outcome]:
        return [self.send(job, attempts, CREATED + 1.0) for job in self.queued.jobs]

    def sent(self) -> list[object]:
        return [reply for _, reply in self.messenger.sent]


def test_the_job_waits_for_the_rules_then_sends_what_they_say_once():
    service = Service()
    assert service.answer(text("1")) == Acknowledge()
    (waiting,) = service.attempt()
    assert isinstance(waiting, RetryLater)
    assert waiting.reason.startswith("no rules in force yet: ")
    assert waiting.delay == 1.0  # the queue's back-off, from its first step
    assert service.sent() == []
    service.rules_arrive()
    assert service.attempt(2) == [Delivered(1)]
    assert service.attempt(3) == [Delivered(0)]  # replayed after a crash: nothing again
    assert service.sent() == [TextReply("一")]
    assert service.stats.hits == [Hit("1")]


def test_each_message_of_the_wait_gets_its_own_answer_by_the_rules_that_arrived():
    service = Service()
    enter = EnterSessionEvent(to_user="gh", from_user="user-1", create_time=CREATED)
    for message in (enter, text("1", "1"), text("我想换手机号", "2"), text("随便", "3")):
        assert service.answer(message) == Acknowledge()
    assert len(service.queued.jobs) == 4
    service.rules_arrive()
    service.attempt()
    assert service.sent() == [
        TextReply("欢迎"),
        TextReply("一"),
        TextReply("在 App 里更换"),
        TextReply("再见"),
    ]
    assert [hit.key for hit in service.stats.hits] == ["@enter", "1", "怎么更换手机号", "default"]


def test_a_handover_the_rules_ask_for_after_the_ack_sends_the_rest(caplog):
    service = Service()
    assert service.answer(text("人工")) == Acknowledge()
    service.rules_arrive()
    assert service.attempt() == [Delivered(1)]
    assert service.sent() == [TextReply("请稍候")]
    assert "hand it to an agent, too late after the ack" in caplog.text


def test_rules_that_never_come_make_a_dead_letter_at_the_reply_deadline():
    service = Service()
    service.answer(text("1"))
    service.clock.advance(3600)
    (outcome,) = service.attempt(12)
    assert isinstance(outcome, GiveUp)
    assert "no rules in force yet" in outcome.reason
    assert service.sent() == []
