"""WeChat's retries of one push send nothing twice, also after a failed delivery."""

import contextlib

from adapters.state.guard import GuardedStateStore
from domain.answering import AnswerMessage, Transfer
from domain.delivery import DeliverReplies
from domain.dispatch import DeliverNow
from domain.errors import DeliveryError, MediaExpired
from domain.jobs import ReplyJob
from domain.ledger import PushLedger
from domain.messages import TextMessage
from domain.ports import StateStore
from domain.replies import ImageSend, TextReply
from tests.fakes import FakeClock, FakeMediaIds, FakeMessenger, FakeRuleSource, FakeStateStore

# The messages below are a few seconds old: inside every WeChat window.
NOW = FakeClock(30.0)

DOCUMENT = {
    "two": [{"type": "text", "text": "first"}, {"type": "text", "text": "second"}],
    "poster": {"type": "image", "url": "/cms/poster.png"},
    "人工": {"type": "transfer"},
    "default": {"type": "text", "text": "再见"},
}
TRANSIENT = DeliveryError("WeChat -1 system error", transient=True, code=-1)
REJECTED = DeliveryError("45015 out of window", transient=False, code=45015)
MEDIA_GONE = MediaExpired("40007 invalid media_id")


def push(content: str, msg_id: str = "1001") -> TextMessage:
    return TextMessage(to_user="gh", from_user="u1", create_time=5, msg_id=msg_id, content=content)


class Kefu:
    """One worker's use case; workers built on the same store share what they claimed."""

    def __init__(self, store: StateStore, messenger: FakeMessenger, media: FakeMediaIds) -> None:
        ledger = PushLedger(store)
        dispatcher = DeliverNow(DeliverReplies(media, messenger, ledger, clock=NOW))
        self.answer = AnswerMessage(FakeRuleSource(DOCUMENT), dispatcher, ledger)


def setup(failures=()):
    store, messenger = FakeStateStore(), FakeMessenger(failures=list(failures))
    media = FakeMediaIds(available={"/cms/poster.png"})
    return store, messenger, media


def test_the_same_push_three_times_on_two_workers_sends_once():
    store, messenger, media = setup()
    first, second = Kefu(store, messenger, media), Kefu(store, messenger, media)
    for worker in (first, second, first):
        worker.answer(push("two"))
    assert [m for _, m in messenger.sent] == [TextReply("first"), TextReply("second")]


def test_different_pushes_are_not_confused():
    store, messenger, media = setup()
    kefu = Kefu(store, messenger, media)
    kefu.answer(push("two", msg_id="1"))
    kefu.answer(push("two", msg_id="2"))
    assert len(messenger.sent) == 4


def test_a_retry_of_a_push_whose_inline_delivery_failed_sends_nothing_again():
    # The claim stays: WeChat got `success` and never re-sends, so the queue does the retrying.
    store, messenger, media = setup(failures=[TRANSIENT])
    kefu = Kefu(store, messenger, media)
    kefu.answer(push("two"))
    kefu.answer(push("two"))
    assert messenger.sent == []


def test_a_permanent_failure_keeps_the_claim_so_retries_do_not_hammer_wechat():
    store, messenger, media = setup(failures=[REJECTED])
    kefu = Kefu(store, messenger, media)
    kefu.answer(push("two"))
    kefu.answer(push("two"))
    assert messenger.sent == []


def test_a_retry_of_a_transfer_still_gets_the_passive_answer():
    store, messenger, media = setup()
    kefu = Kefu(store, messenger, media)
    assert isinstance(kefu.answer(push("人工")), Transfer)
    assert isinstance(kefu.answer(push("人工")), Transfer)


def test_an_unreachable_store_holds_replies_back_until_it_returns_rather_than_risk_two():
    store, messenger, media = setup()
    store.broken = True
    # The one "store failed" policy is the guard's: the container wraps every store in it.
    guarded = GuardedStateStore(store, probe_every=0.0)
    deliver = DeliverReplies(media, messenger, PushLedger(guarded), clock=NOW)
    job = ReplyJob("msg:1", "u1", (TextReply("first"),), created_at=5)
    report = deliver(job)
    assert messenger.sent == [] and report.failure is not None and report.failure.transient
    store.broken = False  # the store is back: the queue's retry sends it
    assert deliver(job).sent == 1 and len(messenger.sent) == 1


def test_image_replies_show_typing_first_and_text_replies_do_not():
    store, messenger, media = setup()
    kefu = Kefu(store, messenger, media)
    kefu.answer(push("two", msg_id="1"))
    assert messenger.typing == []
    kefu.answer(push("poster", msg_id="2"))
    assert messenger.typing == ["u1"]


def test_typing_that_fails_does_not_block_the_reply():
    store, messenger, media = setup()
    messenger.typing_failure = DeliveryError("45080 no interaction", transient=False, code=45080)
    Kefu(store, messenger, media).answer(push("poster"))
    assert messenger.sent == [("u1", ImageSend("media:/cms/poster.png"))]


def test_a_media_id_wechat_forgot_is_uploaded_again_once():
    store, messenger, media = setup(failures=[MEDIA_GONE])
    Kefu(store, messenger, media).answer(push("poster"))
    assert media.forgotten == ["/cms/poster.png"]
    assert media.uploaded == ["/cms/poster.png", "/cms/poster.png"]
    assert messenger.sent == [("u1", ImageSend("media:/cms/poster.png"))]


class DiesAfterQueueing:
    """A dispatcher whose worker is SIGKILLed right after the job is queued."""

    def __init__(self) -> None:
        self.jobs: list[object] = []

    def dispatch(self, job) -> None:
        self.jobs.append(job)
        raise SystemExit("SIGKILL")


def test_a_worker_killed_between_queueing_and_claiming_loses_no_reply():
    store, messenger, media = setup()
    dying = DiesAfterQueueing()
    with contextlib.suppress(SystemExit):
        AnswerMessage(FakeRuleSource(DOCUMENT), dying, PushLedger(store))(push("two"))
    assert len(dying.jobs) == 1  # queued, never claimed
    Kefu(store, messenger, media).answer(push("two"))  # WeChat's retry, on another worker
    assert [m for _, m in messenger.sent] == [TextReply("first"), TextReply("second")]
