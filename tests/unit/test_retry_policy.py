"""Which failures are retried, how soon, and when a reply is given up."""

from __future__ import annotations

import logging

import pytest

from domain.delivery import DeliverReplies
from domain.dispatch import Enqueue
from domain.errors import DeliveryError, FailureKind, QueueUnavailable
from domain.jobs import ReplyJob
from domain.ledger import PushLedger
from domain.quotas import REPLY_WINDOW
from domain.replies import TextReply
from domain.retry import GiveUp, RetryLater, RetryPolicy
from domain.sending import Delivered, SendQueuedReplies, Unconfirmed
from tests.fakes import FakeClock, FakeMediaIds, FakeMessenger, FakeStateStore

NOW = 1_000_000.0


def failure(kind: FailureKind) -> DeliveryError:
    return DeliveryError(f"{kind.value} failure", kind=kind)


def policy(jitter: float = 0.0) -> RetryPolicy:
    return RetryPolicy(lambda: jitter, deadline=3600.0, first_delay=1.0, max_delay=60.0)


@pytest.mark.parametrize("kind", [FailureKind.TRANSIENT, FailureKind.OPERATOR])
def test_retryable_failures_back_off_doubling_up_to_the_cap(kind):
    delays = [policy().after(failure(kind), n, NOW, None, NOW) for n in (1, 2, 3, 4, 10)]
    assert delays == [RetryLater(d, f"{kind.value} failure") for d in (1, 2, 4, 8, 60)]


def test_jitter_stretches_a_delay_by_at_most_half():
    assert policy(jitter=0.999).delay(3) == pytest.approx(4 * 1.4995)


def test_a_permanent_failure_is_given_up_at_once():
    decision = policy().after(failure(FailureKind.PERMANENT), 1, NOW, None, NOW)
    assert isinstance(decision, GiveUp) and "refused" in decision.reason


def test_retries_stop_at_the_deadline_and_never_wait_past_it():
    transient = failure(FailureKind.TRANSIENT)
    assert policy().after(transient, 20, NOW, None, NOW + 3590) == RetryLater(
        10.0, "transient failure"
    )
    assert isinstance(policy().after(transient, 21, NOW, None, NOW + 3600), GiveUp)


def test_no_retry_is_planned_past_the_window_for_the_users_message():
    closes = NOW + 5
    decision = policy().after(failure(FailureKind.TRANSIENT), 1, NOW, closes, NOW)
    assert decision == RetryLater(1.0, "transient failure")
    assert isinstance(
        policy().after(failure(FailureKind.TRANSIENT), 1, NOW, closes, NOW + 6), GiveUp
    )


def sending(messenger: FakeMessenger, clock: FakeClock) -> SendQueuedReplies:
    ledger = PushLedger(FakeStateStore())
    return SendQueuedReplies(
        DeliverReplies(FakeMediaIds(), messenger, ledger, clock), policy(), clock
    )


def job(texts=("hi",), created_at: float = NOW) -> ReplyJob:
    replies = tuple(TextReply(t) for t in texts)
    return ReplyJob("msg:1", "o_user", replies, (), created_at=int(created_at))


def test_a_job_older_than_48_hours_is_never_sent():
    messenger = FakeMessenger()
    stale = job(created_at=NOW - REPLY_WINDOW - 1)
    outcome = sending(messenger, FakeClock(NOW))(stale, 1, NOW)
    assert isinstance(outcome, GiveUp) and messenger.attempts == 0


def test_an_operator_error_is_logged_once_per_episode(caplog):
    operator = DeliveryError("errcode 40164 — to fix: the IP whitelist", kind=FailureKind.OPERATOR)
    messenger = FakeMessenger(failures=[operator, operator])
    send = sending(messenger, FakeClock(NOW))
    with caplog.at_level(logging.ERROR):
        assert isinstance(send(job(), 1, NOW), RetryLater)
        assert isinstance(send(job(), 2, NOW), RetryLater)
        assert send(job(), 3, NOW) == Delivered(1)
    assert caplog.text.count("IP whitelist") == 1


def test_a_send_whose_answer_never_came_is_not_sent_again_and_the_job_ends_uncertain():
    lost = DeliveryError("read timed out", kind=FailureKind.UNCERTAIN)
    messenger = FakeMessenger(failures=[lost])
    send = sending(messenger, FakeClock(NOW))
    assert send(job(("a", "b")), 1, NOW) == Unconfirmed(sent=1, uncertain=1)
    assert send(job(("a", "b")), 2, NOW) == Unconfirmed(sent=0, uncertain=1)
    assert [m for _, m in messenger.sent] == [TextReply("b")]
    assert messenger.attempts == 2


class DownQueue:
    def __init__(self) -> None:
        self.down = True
        self.jobs: list[ReplyJob] = []

    def submit(self, job: ReplyJob) -> None:
        if self.down:
            raise QueueUnavailable("reply queue unavailable: connection refused")
        self.jobs.append(job)


def test_a_queue_that_cannot_take_jobs_sends_nothing_in_the_request_and_says_so_once(caplog):
    queue = DownQueue()
    dispatcher = Enqueue(queue)
    with caplog.at_level(logging.INFO):
        for n in range(3):
            dispatcher.dispatch(ReplyJob(f"msg:{n}", "o_user", (TextReply("hi"),)))
        assert dispatcher.refusing == "reply queue unavailable: connection refused"
        queue.down = False
        dispatcher.dispatch(job())
    assert len(queue.jobs) == 1 and dispatcher.refusing is None
    lines = [r.getMessage() for r in caplog.records if r.name == "domain.dispatch"]
    assert len(lines) == 2 and "lost" in lines[0] and "again" in lines[1]
