"""WeChat's quotas as domain rules: 5 sends within 48 h of a message, 2 within 1 min of entering."""

from __future__ import annotations

import pytest

from domain.answering import AnswerMessage
from domain.delivery import DeliverReplies
from domain.dispatch import DeliverNow
from domain.errors import OutsideReplyWindow
from domain.jobs import ReplyJob
from domain.ledger import PushLedger
from domain.messages import EnterSessionEvent
from domain.quotas import ENTERING, USER_MESSAGE, quota_for
from domain.replies import ImageRef, ImageReply, TextReply
from tests.fakes import (
    FakeClock,
    FakeDispatcher,
    FakeMediaIds,
    FakeMessenger,
    FakeRuleSource,
    FakeStateStore,
)

SENT_AT = 1_800_000_000
HOURS_48 = 48 * 3600


def texts(*words: str) -> tuple[TextReply, ...]:
    return tuple(TextReply(w) for w in words)


def deliver(clock: FakeClock, messenger: FakeMessenger | None = None):
    messenger = messenger or FakeMessenger()
    ledger = PushLedger(FakeStateStore())
    return DeliverReplies(FakeMediaIds(), messenger, ledger, clock=clock), messenger, ledger


@pytest.mark.parametrize(
    ("quota", "after", "closed"),
    [
        (USER_MESSAGE, 0, False),
        (USER_MESSAGE, HOURS_48, False),
        (USER_MESSAGE, HOURS_48 + 1, True),
        (ENTERING, 60, False),
        (ENTERING, 61, True),
    ],
)
def test_a_window_closes_only_after_its_length(quota, after, closed):
    assert quota.closed(SENT_AT, SENT_AT + after) is closed


def test_an_unknown_action_time_never_closes_a_window():
    assert not USER_MESSAGE.closed(None, SENT_AT)


def test_each_kind_of_action_has_its_own_quota():
    assert (quota_for(False).sends, quota_for(True).sends) == (5, 2)


def test_a_reply_more_than_48_hours_after_the_message_is_not_attempted():
    clock = FakeClock(SENT_AT + HOURS_48 + 1)
    run, messenger, _ = deliver(clock)
    image = ImageReply(ImageRef("/poster.png"))
    report = run(ReplyJob("msg:1", "u1", (TextReply("hi"), image), created_at=SENT_AT))
    assert messenger.sent == [] and messenger.typing == [] and messenger.attempts == 0
    assert isinstance(report.failure, OutsideReplyWindow)
    assert not report.failure.transient
    assert "48 h" in str(report.failure)


def test_a_reply_inside_48_hours_goes_out():
    run, messenger, _ = deliver(FakeClock(SENT_AT + HOURS_48))
    report = run(ReplyJob("msg:1", "u1", texts("hi"), created_at=SENT_AT))
    assert report.failure is None and [m for _, m in messenger.sent] == [TextReply("hi")]


def test_a_job_that_runs_past_the_window_stops_before_the_late_send():
    clock = FakeClock(SENT_AT + HOURS_48 - 1)

    class SlowMessenger(FakeMessenger):
        def send(self, touser, message):
            super().send(touser, message)
            clock.advance(2)

    run, messenger, _ = deliver(clock, SlowMessenger())
    report = run(ReplyJob("msg:1", "u1", texts("a", "b"), created_at=SENT_AT))
    assert [m for _, m in messenger.sent] == [TextReply("a")]
    assert report.sent == 1 and isinstance(report.failure, OutsideReplyWindow)


def test_the_welcome_goes_out_only_within_a_minute_of_entering():
    run, messenger, _ = deliver(FakeClock(SENT_AT + 61))
    report = run(ReplyJob("event:u1", "u1", texts("hello"), created_at=SENT_AT, on_enter=True))
    assert messenger.sent == [] and isinstance(report.failure, OutsideReplyWindow)


def test_at_most_two_sends_follow_entering_the_chat():
    run, messenger, _ = deliver(FakeClock(SENT_AT + 5))
    job = ReplyJob("event:u1", "u1", texts("a", "b", "c"), created_at=SENT_AT, on_enter=True)
    run(job)
    assert [m for _, m in messenger.sent] == list(texts("a", "b"))


def test_a_fallback_never_takes_a_message_past_five_sends():
    images = tuple(ImageReply(ImageRef(f"/missing-{n}.png")) for n in range(3))
    fallback = texts("d1", "d2", "d3")
    run, messenger, _ = deliver(FakeClock(SENT_AT + 5))
    run(ReplyJob("msg:1", "u1", images, fallback, created_at=SENT_AT))
    assert len(messenger.sent) == 5


def test_the_job_carries_the_time_and_kind_of_what_earned_it():
    dispatcher = FakeDispatcher()
    rules = FakeRuleSource({"@enter": {"type": "text", "text": "welcome"}})
    answer = AnswerMessage(rules, dispatcher, PushLedger(FakeStateStore()))
    answer(EnterSessionEvent(to_user="gh", from_user="u1", create_time=SENT_AT))
    (job,) = dispatcher.jobs
    assert (job.created_at, job.on_enter) == (SENT_AT, True)


def test_a_late_reply_keeps_its_claim_so_wechats_retry_sends_nothing():
    clock = FakeClock(SENT_AT + HOURS_48 + 1)
    run, messenger, ledger = deliver(clock)
    ledger.claim("msg:1")
    DeliverNow(run).dispatch(ReplyJob("msg:1", "u1", texts("hi"), created_at=SENT_AT))
    assert not ledger.claim("msg:1") and messenger.sent == []
