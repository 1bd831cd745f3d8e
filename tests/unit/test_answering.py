"""The use case: a message in, the right replies delivered, failures absorbed."""

from domain.answering import Acknowledge, AnswerMessage, Transfer
from domain.delivery import DeliverReplies
from domain.dispatch import DeliverNow
from domain.errors import DeliveryError
from domain.ledger import PushLedger
from domain.messages import EnterSessionEvent, OtherMessage, TextMessage
from domain.replies import ImageSend, LinkReply, MiniProgramPageSend, TextReply
from tests.fakes import (
    FakeClock,
    FakeDispatcher,
    FakeMediaIds,
    FakeMessenger,
    FakeRuleSource,
    FakeStateStore,
)

# The messages below are a few seconds old: inside every WeChat window.
NOW = FakeClock(30.0)

DOCUMENT = {
    "1": {
        "type": "link",
        "title": "t",
        "description": "d",
        "url": "https://example.com/app.html",
        "thumb_url": "https://example.com/thumb.png",
    },
    "2": {"type": "image", "url": "https://example.com/poster.jpg"},
    "3": [
        {"type": "text", "text": "first"},
        {"type": "image", "url": "/cms/poster02.png"},
        {"type": "text", "text": "last"},
    ],
    "card": {"type": "miniprogrampage", "title": "T", "pagepath": "pages/i", "thumb": "/t.png"},
    "人工": {"type": "transfer"},
    "default": {"type": "text", "description": "再见"},
}


def text(content: str, user: str = "user-1") -> TextMessage:
    return TextMessage(
        to_user="gh_app", from_user=user, create_time=7, msg_id="42", content=content
    )


def service(document=DOCUMENT, images=(), failures=()):
    media = FakeMediaIds(available=set(images))
    messenger = FakeMessenger(failures=list(failures))
    ledger = PushLedger(FakeStateStore())
    dispatcher = DeliverNow(DeliverReplies(media, messenger, ledger, clock=NOW))
    answer = AnswerMessage(FakeRuleSource(document), dispatcher, ledger)
    return answer, media, messenger


def fresh_ledger() -> PushLedger:
    return PushLedger(FakeStateStore())


def test_keyword_reply_is_sent_to_the_user_who_asked():
    answer, _, messenger = service()
    assert answer(text("1")) == Acknowledge()
    assert messenger.sent == [
        (
            "user-1",
            LinkReply("t", "d", "https://example.com/app.html", "https://example.com/thumb.png"),
        )
    ]


def test_image_reply_is_uploaded_then_sent_by_media_id():
    answer, media, messenger = service(images={"https://example.com/poster.jpg"})
    answer(text("2"))
    assert media.uploaded == ["https://example.com/poster.jpg"]
    assert messenger.sent == [("user-1", ImageSend("media:https://example.com/poster.jpg"))]


def test_image_that_cannot_be_had_falls_back_to_the_default_reply():
    answer, _, messenger = service(images=set())
    assert answer(text("2")) == Acknowledge()
    assert messenger.sent == [("user-1", TextReply("再见"))]


def test_failing_image_in_a_list_is_replaced_and_the_rest_still_goes_out():
    answer, _, messenger = service(images=set())
    answer(text("3"))
    assert [m for _, m in messenger.sent] == [
        TextReply("first"),
        TextReply("再见"),
        TextReply("last"),
    ]


def test_a_failing_default_image_sends_nothing_rather_than_looping():
    document = {"default": {"type": "image", "url": "/gone.png"}}
    answer, _, messenger = service(document)
    assert answer(text("x")) == Acknowledge()
    assert messenger.sent == []


def test_mini_program_card_thumb_is_uploaded():
    answer, _, messenger = service(images={"/t.png"})
    answer(text("card"))
    assert messenger.sent == [("user-1", MiniProgramPageSend("T", "pages/i", "media:/t.png"))]


def test_transfer_keyword_answers_passively_and_sends_nothing():
    answer, _, messenger = service()
    assert answer(text("人工")) == Transfer(to_user="user-1", from_user="gh_app", create_time=7)
    assert messenger.sent == []


def test_events_are_never_transferred():
    answer, _, messenger = service({"@enter": {"type": "transfer"}})
    enter = EnterSessionEvent(to_user="gh_app", from_user="u", create_time=1)
    assert answer(enter) == Acknowledge()
    assert messenger.sent == []


def test_no_rules_at_all_acknowledges_and_queues_the_message_to_match_later():
    dispatcher = FakeDispatcher()
    ledger = fresh_ledger()
    answer = AnswerMessage(FakeRuleSource(None), dispatcher, ledger)
    assert answer(text("1")) == Acknowledge()
    assert answer(text("1")) == Acknowledge()  # WeChat's retry queues nothing more
    (job,) = dispatcher.jobs
    assert (job.key, job.to_user, job.replies, job.message) == (
        "msg:42:user-1:7",
        "user-1",
        (),
        text("1"),
    )
    assert job.created_at == 7


def test_with_no_rules_an_event_no_rule_answers_queues_nothing():
    dispatcher = FakeDispatcher()
    answer = AnswerMessage(FakeRuleSource(None), dispatcher, fresh_ledger())
    event = OtherMessage(to_user="gh_app", from_user="user-1", create_time=7, msg_type="event")
    assert answer(event) == Acknowledge()
    assert dispatcher.jobs == []


def test_a_rejected_send_stops_the_job_without_raising():
    failure = DeliveryError("45015 out of window", transient=False)
    answer, _, messenger = service(failures=[failure])
    assert answer(text("3")) == Acknowledge()
    assert messenger.sent == []


def test_job_carries_the_push_identity_and_the_default_as_fallback():
    dispatcher = FakeDispatcher()
    AnswerMessage(FakeRuleSource(DOCUMENT), dispatcher, fresh_ledger())(text("2"))
    (job,) = dispatcher.jobs
    assert job.key == "msg:42:user-1:7"
    assert job.to_user == "user-1"
    assert job.fallback == (TextReply("再见"),)


def test_the_default_reply_has_no_fallback_of_its_own():
    dispatcher = FakeDispatcher()
    AnswerMessage(FakeRuleSource(DOCUMENT), dispatcher, fresh_ledger())(text("unknown"))
    assert dispatcher.jobs[0].fallback == ()
