"""Keyword matching as CMS editors expect it (contract section 4)."""

import pytest

from domain.messages import EnterSessionEvent, ImageMessage, OtherMessage, TextMessage
from domain.replies import ImageRef, ImageReply, LinkReply, TextReply
from domain.rules import normalise
from tests.documents import CONTRACT_DOCUMENT, parse_with_re2

DOCUMENT = {**CONTRACT_DOCUMENT, "app": {"type": "text", "text": "下载 APP"}}
RULES = parse_with_re2(DOCUMENT).rules


def text(content: str) -> TextMessage:
    return TextMessage(to_user="gh_x", from_user="u1", create_time=1, msg_id="9", content=content)


@pytest.mark.parametrize("typed", ["1", " 1 ", "１", "\t1\n"])
def test_exact_keyword_hits_after_normalisation(typed):
    assert RULES.match(text(typed)).key == "1"


@pytest.mark.parametrize("typed", ["APP", "app", "App", "ＡＰＰ"])
def test_case_and_width_do_not_matter(typed):
    assert RULES.match(text(typed)).replies == (TextReply("下载 APP"),)


@pytest.mark.parametrize("typed", ["12", "1 2", "download app", ""])
def test_anything_else_gets_the_default(typed):
    match = RULES.match(text(typed))
    assert (match.key, match.replies) == ("default", (TextReply("再见"),))


def test_both_image_field_spellings_are_accepted():
    assert RULES.match(text("2")).replies == (
        ImageReply(ImageRef("https://example.com/cms/poster.jpg")),
    )
    other = parse_with_re2({"9": {"type": "image", "imageurl": "/a.png", "url": "/b.png"}}).rules
    assert other.match(text("9")).replies == (ImageReply(ImageRef("/a.png")),)


def test_link_rule_keeps_all_four_fields():
    (reply,) = RULES.match(text("1")).replies
    assert reply == LinkReply(
        "点击下载APP",
        "注册领取红包",
        "https://example.com/app.html",
        "https://example.com/thumb.png",
    )


def test_messages_without_text_get_the_default():
    image = ImageMessage(to_user="gh", from_user="u", create_time=1, msg_id="2", pic_url="p")
    assert RULES.match(image).key == "default"


def test_without_a_default_unknown_text_gets_no_reply():
    rules = parse_with_re2({"1": {"type": "text", "text": "one"}}).rules
    match = rules.match(text("hello"))
    assert (match.key, match.replies) == (None, ())


def test_events_other_than_entering_get_no_reply():
    event = OtherMessage(
        to_user="gh", from_user="u", create_time=1, msg_type="event", event="debug_demo"
    )
    assert RULES.match(event).replies == ()


def test_entering_the_chat_replies_only_with_an_enter_rule():
    enter = EnterSessionEvent(to_user="gh", from_user="u", create_time=1)
    assert RULES.match(enter).replies == ()
    welcome = parse_with_re2(
        {"@enter": {"type": "text", "text": "hi"}, "default": {"type": "text", "text": "x"}}
    )
    assert welcome.rules.match(enter).replies == (TextReply("hi"),)


def test_wrapped_document_means_the_same():
    wrapped = parse_with_re2({"code": 0, "data": DOCUMENT}).rules
    assert wrapped.match(text("1")) == RULES.match(text("1"))
    assert wrapped.version == RULES.version


def test_normalise_folds_width_space_and_case():
    assert normalise("  ＡＢｃ１ ") == "abc1"
