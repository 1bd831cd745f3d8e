"""A send in flight when its sender stopped is never repeated on its own: it ends uncertain."""

from __future__ import annotations

import contextlib

from domain.delivery import DeliverReplies
from domain.errors import DeliveryError, FailureKind
from domain.jobs import ReplyJob
from domain.ledger import PartState, PushLedger
from domain.replies import TextReply
from domain.retry import RetryLater, RetryPolicy
from domain.sending import Delivered, SendQueuedReplies, Unconfirmed
from tests.fakes import FakeClock, FakeMediaIds, FakeMessenger, FakeStateStore

NOW = 1_000_000.0
JOB = ReplyJob("msg:1", "o_user", (TextReply("a"), TextReply("b")), (), created_at=int(NOW))


class DiesMidSend(FakeMessenger):
    """A messenger whose process is killed while the first send is on the wire."""

    def send(self, to_user, message):
        raise SystemExit("SIGKILL")


def sender(ledger: PushLedger, messenger: FakeMessenger) -> SendQueuedReplies:
    deliver = DeliverReplies(FakeMediaIds(), messenger, ledger, FakeClock(NOW))
    return SendQueuedReplies(deliver, RetryPolicy(lambda: 0.0), FakeClock(NOW))


def killed_mid_send(ledger: PushLedger) -> None:
    with contextlib.suppress(SystemExit):  # the process dies: nothing after the call runs
        sender(ledger, DiesMidSend())(JOB, 1, NOW)


def test_the_part_on_the_wire_is_recorded_before_the_call():
    ledger = PushLedger(FakeStateStore())
    killed_mid_send(ledger)
    assert ledger.part("msg:1", "0.0") is PartState.IN_FLIGHT


def test_the_re_run_after_a_kill_holds_the_part_back_sends_the_rest_and_ends_uncertain(caplog):
    ledger = PushLedger(FakeStateStore())
    killed_mid_send(ledger)
    messenger = FakeMessenger()
    outcome = sender(ledger, messenger)(JOB, 2, NOW)
    assert outcome == Unconfirmed(sent=1, uncertain=1)
    assert [m for _, m in messenger.sent] == [TextReply("b")]
    assert ledger.part("msg:1", "0.0") is PartState.UNCERTAIN
    assert caplog.text.count("in flight when its sender stopped") == 1


def test_a_definite_refusal_frees_the_part_for_the_retry():
    ledger = PushLedger(FakeStateStore())
    busy = DeliveryError("errcode -1 system busy", kind=FailureKind.TRANSIENT, code=-1)
    messenger = FakeMessenger(failures=[busy])
    send = sender(ledger, messenger)
    assert isinstance(send(JOB, 1, NOW), RetryLater)
    assert ledger.part("msg:1", "0.0") is None
    assert send(JOB, 2, NOW) == Delivered(2)
    assert [m for _, m in messenger.sent] == [TextReply("a"), TextReply("b")]


def test_forgetting_the_uncertain_parts_lets_an_operator_send_them_again():
    ledger = PushLedger(FakeStateStore())
    killed_mid_send(ledger)
    sender(ledger, FakeMessenger())(JOB, 2, NOW)
    ledger.forget_uncertain(JOB)
    messenger = FakeMessenger()
    assert sender(ledger, messenger)(JOB, 3, NOW) == Delivered(1)
    assert [m for _, m in messenger.sent] == [TextReply("a")]


class ForgetfulStore(FakeStateStore):
    """A store that is down behind its guard: writes vanish, reads find nothing."""

    def set(self, key, value, ttl):
        pass


def test_nothing_is_sent_while_the_store_cannot_record_the_send():
    messenger = FakeMessenger()
    outcome = sender(PushLedger(ForgetfulStore()), messenger)(JOB, 1, NOW)
    assert isinstance(outcome, RetryLater) and "did not record" in outcome.reason
    assert messenger.attempts == 0
