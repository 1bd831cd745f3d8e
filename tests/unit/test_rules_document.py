"""The rules document as CMS editors write it: every documented example, broken keys, precedence."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from domain.errors import RulesDocumentError
from domain.messages import EnterSessionEvent, ImageMessage, TextMessage
from domain.replies import (
    ImageRef,
    ImageReply,
    LinkReply,
    MiniProgramPageReply,
    Reply,
    TextReply,
    TransferReply,
)
from domain.rules import RuleSet
from domain.rules_document import ParsedRules, RuleProblem
from domain.wording import Words, words
from tests.documents import CONTRACT_DOCUMENT, parse_with_re2
from tests.unit.test_similar_questions import DOCUMENTED_MISTAKES

ROOT = Path(__file__).resolve().parents[2]
DOCS = (ROOT / "docs" / "rules.md").read_text("utf-8")
DOC_EXAMPLES: dict[str, object] = {
    name: json.loads(block)
    for name, block in re.findall(r"<!-- example: (\S+) -->\n```json\n(.*?)```", DOCS, re.S)
}

# Contract section 4, exactly as the CMS serves it today.
CONTRACT_4 = CONTRACT_DOCUMENT
# Contract section 4.1.
WELCOME = "您好！回复 1 下载 APP，回复 2 查看活动海报，回复 人工 联系客服"
CONTRACT_4_1 = {
    "@enter": {"type": "text", "text": WELCOME},
    "1": [
        {"type": "text", "text": "点击下方卡片下载 APP"},
        {
            "type": "link",
            "title": "点击下载APP",
            "description": "注册领取红包",
            "url": "https://example.com/app.html",
            "thumb_url": "https://example.com/thumb.png",
        },
    ],
    "2": {"type": "image", "imageurl": "https://example.com/cms/poster.jpg"},
    "活动": {
        "type": "miniprogrampage",
        "title": "本月活动",
        "pagepath": "pages/event/index?id=42",
        "thumb": "/cms/event-thumb.png",
    },
    "人工": {"type": "transfer"},
    "re:下载|安装": {"type": "text", "text": "回复 1 获取下载链接"},
    "default": {"type": "text", "description": "再见"},
}
APP_LINK = LinkReply(
    "点击下载APP", "注册领取红包", "https://example.com/app.html", "https://example.com/thumb.png"
)
BYE = (TextReply("再见"),)
ENTER = EnterSessionEvent(to_user="gh_x", from_user="u1", create_time=1)


def text(content: str) -> TextMessage:
    return TextMessage(to_user="gh_x", from_user="u1", create_time=1, msg_id="9", content=content)


def hit(rules: RuleSet, typed: str) -> tuple[str | None, tuple[Reply, ...]]:
    match = rules.match(text(typed))
    return match.key, match.replies


def rendered(problem: RuleProblem) -> str:
    """A problem as `kefu rules check` and docs/rules.md show it, the key in its own column."""
    where = f"{problem.field}: " if problem.field else ""
    return f"{where}{problem.problem} (expected {problem.expected})"


# --- every documented example parses to the replies it documents ---------------------------


def test_contract_section_4_document_parses_to_its_replies():
    parsed = parse_with_re2(CONTRACT_4)
    assert parsed.problems == ()
    assert hit(parsed.rules, "1") == ("1", (APP_LINK,))
    assert hit(parsed.rules, "2") == (
        "2",
        (ImageReply(ImageRef("https://example.com/cms/poster.jpg")),),
    )
    assert hit(parsed.rules, "3") == ("3", (ImageReply(ImageRef("/cms/poster02.png")),))
    assert hit(parsed.rules, "hello") == ("default", BYE)


def test_contract_section_4_1_document_parses_to_its_replies():
    parsed = parse_with_re2(CONTRACT_4_1)
    rules = parsed.rules
    assert parsed.problems == ()
    assert rules.match(ENTER).replies == (TextReply(WELCOME),)
    assert hit(rules, "1") == ("1", (TextReply("点击下方卡片下载 APP"), APP_LINK))
    poster = ImageReply(ImageRef("https://example.com/cms/poster.jpg"))
    assert hit(rules, "2") == ("2", (poster,))
    card = MiniProgramPageReply(
        "本月活动", "pages/event/index?id=42", ImageRef("/cms/event-thumb.png")
    )
    assert hit(rules, "活动") == ("活动", (card,))
    assert hit(rules, "人工") == ("人工", (TransferReply(),))
    assert hit(rules, "怎么安装") == ("re:下载|安装", (TextReply("回复 1 获取下载链接"),))
    assert hit(rules, "hello") == ("default", BYE)


def test_the_shipped_rich_example_is_the_contract_example():
    shipped = json.loads((ROOT / "config" / "rules.rich.example.json").read_text("utf-8"))
    assert shipped == CONTRACT_4_1


def test_the_docs_show_the_contract_documents_unchanged():
    assert DOC_EXAMPLES["contract-4"] == CONTRACT_4
    assert DOC_EXAMPLES["contract-4.1"] == CONTRACT_4_1


def test_every_json_block_in_the_docs_is_a_checked_example():
    assert DOCS.count("```json") == len(DOC_EXAMPLES)


DOCUMENTED = [
    ("wrapped", "1", "1", (TextReply("一"),)),
    ("wrapped", "二", "default", BYE),
    ("types", "你好", "你好", (TextReply("你好！有什么可以帮您？"),)),
    (
        "types",
        "官网",
        "官网",
        (LinkReply("官网", "了解我们", "https://example.com/", "https://example.com/logo.png"),),
    ),
    ("types", "海报", "海报", (ImageReply(ImageRef("/cms/poster.png")),)),
    (
        "types",
        "活动",
        "活动",
        (
            MiniProgramPageReply(
                "本月活动", "pages/event/index?id=42", ImageRef("https://example.com/event.png")
            ),
        ),
    ),
    ("types", "人工", "人工", (TransferReply(),)),
    ("list", "1", "1", (TextReply("点击下方卡片下载 APP"), APP_LINK)),
    ("special", "1", "1", (TextReply("下载链接：https://example.com/app.html"),)),
    ("special", "１", "1", (TextReply("下载链接：https://example.com/app.html"),)),
    ("special", "怎么下载", "re:下载|安装", (TextReply("回复 1 获取下载链接"),)),
    ("special", "安装失败", "re:下载|安装", (TextReply("回复 1 获取下载链接"),)),
    ("special", "13800000000", "re:\\d{11}", (TextReply("请不要在聊天中发送手机号"),)),
    ("special", "1下载", "re:下载|安装", (TextReply("回复 1 获取下载链接"),)),
    ("special", "你好", "default", (TextReply("回复 1 下载 APP"),)),
    ("over-budget", "怎么退货", "re:退款|退货", (TextReply("回复 人工 办理退款"),)),
    ("over-budget", "a" * 1000, "default", BYE),
]


@pytest.mark.parametrize(("example", "typed", "key", "replies"), DOCUMENTED)
def test_docs_example_answers_as_documented(example, typed, key, replies):
    assert hit(parse_with_re2(DOC_EXAMPLES[example]).rules, typed) == (key, replies)


def test_docs_special_keys_example_welcomes_on_entering():
    rules = parse_with_re2(DOC_EXAMPLES["special"]).rules
    assert rules.match(ENTER).replies == (TextReply("您好！回复 1 下载 APP"),)


@pytest.mark.parametrize("example", sorted(set(DOC_EXAMPLES) - {"broken", "over-budget"}))
def test_docs_examples_meant_to_be_valid_have_no_problems(example):
    assert parse_with_re2(DOC_EXAMPLES[example]).problems == ()


def test_docs_broken_example_reports_each_broken_key_and_keeps_the_rest():
    parsed = parse_with_re2(DOC_EXAMPLES["broken"], check_image=outside_root)
    assert [(p.key, p.field) for p in parsed.problems] == [
        ("视频", "type"),
        ("下载", "description"),
        ("官网", "url"),
        ("海报", "url"),
        ("秘密", "url"),
        ("re:(下载", ""),
        ("１", ""),
    ]
    assert hit(parsed.rules, "1") == ("1", (TextReply("欢迎"),))
    assert hit(parsed.rules, "视频") == ("default", BYE)


# --- a document with one broken key of each kind --------------------------------------------

VALID = {
    "text": {"type": "text", "text": "你好"},
    "link": {
        "type": "link",
        "title": "官网",
        "description": "了解我们",
        "url": "https://example.com/",
        "thumb_url": "https://example.com/logo.png",
    },
    "image": {"type": "image", "url": "/cms/poster.png"},
    "miniprogrampage": {
        "type": "miniprogrampage",
        "title": "本月活动",
        "pagepath": "pages/event/index",
        "thumb": "/cms/thumb.png",
    },
}
REQUIRED = [
    ("text", "text", "description"),  # without `text`, the text is read from `description`
    ("link", "title", "title"),
    ("link", "description", "description"),
    ("link", "url", "url"),
    ("link", "thumb_url", "thumb_url"),
    ("image", "url", "url"),
    ("miniprogrampage", "title", "title"),
    ("miniprogrampage", "pagepath", "pagepath"),
    ("miniprogrampage", "thumb", "thumb"),
]


def outside_root(ref: ImageRef) -> Words | None:
    """A check_image callback standing in for the media root: `..` leaves it."""
    return words("path leaves the media root") if ref.value.startswith("../") else None


def with_good_keys(**broken: object) -> dict[str, object]:
    return {"ok": VALID["text"], **broken, "default": {"type": "text", "text": "再见"}}


def assert_rest_still_answers(parsed: ParsedRules) -> None:
    assert hit(parsed.rules, "ok") == ("ok", (TextReply("你好"),))
    assert hit(parsed.rules, "broken") == ("default", BYE)


@pytest.mark.parametrize(("kind", "removed", "field"), REQUIRED)
def test_a_missing_required_field_is_reported_and_the_rest_still_answers(kind, removed, field):
    rule = {k: v for k, v in VALID[kind].items() if k != removed}
    parsed = parse_with_re2(with_good_keys(broken=rule))
    assert [(p.key, p.field, str(p.problem)) for p in parsed.problems] == [
        ("broken", field, "missing")
    ]
    assert_rest_still_answers(parsed)


@pytest.mark.parametrize(("kind", "field", "_"), REQUIRED)
@pytest.mark.parametrize("empty", ["", "   ", 42, None])
def test_an_empty_or_non_text_required_field_is_reported(kind, field, _, empty):
    rule = {**VALID[kind], field: empty}
    parsed = parse_with_re2(with_good_keys(broken=rule))
    assert [(p.key, p.field) for p in parsed.problems] == [("broken", field)]
    assert str(parsed.problems[0].expected) == "a non-empty string"
    assert_rest_still_answers(parsed)


def test_text_is_limited_to_2048_utf8_bytes():
    at_limit = "字" * 682 + "ab"  # 2048 bytes
    parsed = parse_with_re2(
        {"full": {"type": "text", "text": at_limit}, "over": {"type": "text", "text": "a" * 2049}}
    )
    assert hit(parsed.rules, "full") == ("full", (TextReply(at_limit),))
    (problem,) = parsed.problems
    assert (problem.key, problem.field, str(problem.problem)) == (
        "over",
        "text",
        "2049 UTF-8 bytes",
    )


BROKEN_OF_EACH_KIND = with_good_keys(
    **{
        "unknown type": {"type": "video", "url": "https://example.com/v.mp4"},
        "no type": {"text": "你好"},
        "long text": {"type": "text", "text": "a" * 2050},
        "link url": {**VALID["link"], "url": "www.example.com"},
        "link no url": {k: v for k, v in VALID["link"].items() if k != "url"},
        "link empty description": {**VALID["link"], "description": ""},
        "re:(下载": {"type": "text", "text": "回复 1"},
        "six replies": [VALID["text"]] * 6,
        "empty list": [],
        "not a reply": "你好",
        "not a reply in a list": [VALID["text"], "你好"],
        "image ftp": {"type": "image", "url": "ftp://example.com/poster.jpg"},
        "thumb data": {**VALID["miniprogrampage"], "thumb": "data:image/png;base64,iVBO"},
        "image outside": {"type": "image", "url": "../secret.png"},
        "card outside": [VALID["text"], {**VALID["miniprogrampage"], "thumb": "../../etc/x.png"}],
        "@welcome": VALID["text"],
        "   ": VALID["text"],
        "@enter": [VALID["text"]] * 3,
        "re: ": VALID["text"],
    }
)
EXPECTED_PROBLEMS = {
    ("unknown type", "type"): "type: unknown type 'video' (expected text, link, image, "
    "miniprogrampage or transfer)",
    ("no type", "type"): "type: missing (expected text, link, image, miniprogrampage or transfer)",
    ("long text", "text"): "text: 2050 UTF-8 bytes (expected at most 2048)",
    ("link url", "url"): "url: 'www.example.com' is not a web address (expected an http(s) URL)",
    ("link no url", "url"): "url: missing (expected a non-empty string)",
    ("link empty description", "description"): "description: empty or not text ('') "
    "(expected a non-empty string)",
    ("re:(下载", ""): "regular expression does not compile: missing ): (下载 (expected a regex in "
    "RE2 syntax: no backreferences or look-around)",
    ("six replies", ""): "6 replies (expected at most 5 (WeChat's quota))",
    ("empty list", ""): "empty list (expected 1 to 5 replies)",
    ("not a reply", ""): "got str (expected a reply object or a list of them)",
    ("not a reply in a list", "[1]"): "[1]: got str (expected a reply object)",
    (
        "image ftp",
        "url",
    ): "url: 'ftp://example.com/poster.jpg' is not a web address or a path (expected an http(s) "
    "URL or a file path)",
    (
        "thumb data",
        "thumb",
    ): "thumb: 'data:image/png;base64,iVBO' is not a web address or a path (expected an "
    "http(s) URL or a file path)",
    ("image outside", "url"): "url: path leaves the media root (expected an image under the "
    "media root)",
    ("card outside", "[1].thumb"): "[1].thumb: path leaves the media root (expected an image "
    "under the media root)",
    ("@welcome", ""): "unknown special key (expected '@enter', '@match' or a keyword)",
    ("   ", ""): "keyword is empty after trimming (expected a non-empty keyword)",
    ("@enter", ""): "3 replies (expected at most 2 (WeChat's quota on entering))",
    ("re: ", ""): "empty pattern would match every message (expected a regex after 're:')",
}


def test_each_broken_key_is_named_with_its_field_and_the_valid_keys_still_answer():
    parsed = parse_with_re2(BROKEN_OF_EACH_KIND, check_image=outside_root)
    assert {(p.key, p.field): rendered(p) for p in parsed.problems} == EXPECTED_PROBLEMS
    assert list(parsed.rules.keywords) == ["ok"]
    assert_rest_still_answers(parsed)
    assert hit(parsed.rules, "unknown type") == ("default", BYE)


def documented_messages() -> list[str]:
    section = DOCS.split("## What is checked", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\|[^|]*\| `(.*)` \|$", section, re.M)


def test_docs_list_exactly_the_messages_the_report_gives():
    duplicates = parse_with_re2({"1": VALID["text"], "１": VALID["text"]}).problems
    over_size = parse_with_re2(DOC_EXAMPLES["over-budget"]).problems
    over_count = parse_with_re2({f"re:#{n}": VALID["text"] for n in range(201)}).problems
    similar = parse_with_re2(DOCUMENTED_MISTAKES).problems
    found = (*duplicates, *over_size, *over_count, *similar)
    given = {*EXPECTED_PROBLEMS.values(), *map(rendered, found)}
    documented = documented_messages()
    assert len(documented) == 30
    # The missing-file message comes from the media root, checked in tests/e2e/test_rules_cli.py;
    # a repeated key is found while decoding, checked in tests/e2e/test_rules_cli_escaping.py.
    assert [m for m in documented if m not in given] == [
        "thumb: no such file under the media root FOLDER (expected an image under the media root)",
        "appears more than once in the document (expected each keyword once)",
    ]


def test_five_replies_are_the_most_a_keyword_may_have():
    parsed = parse_with_re2({"five": [VALID["text"]] * 5})
    assert parsed.problems == ()
    assert hit(parsed.rules, "five")[1] == (TextReply("你好"),) * 5


# --- @enter, lists, re: order and precedence --------------------------------------------------


def test_entering_the_chat_gets_the_enter_replies_in_order():
    rules = parse_with_re2(
        {"@enter": [{"type": "text", "text": "您好"}, VALID["image"]], "default": VALID["text"]}
    ).rules
    assert rules.match(ENTER).replies == (
        TextReply("您好"),
        ImageReply(ImageRef("/cms/poster.png")),
    )


def test_entering_the_chat_without_an_enter_rule_gets_nothing_not_the_default():
    rules = parse_with_re2({"default": VALID["text"]}).rules
    match = rules.match(ENTER)
    assert (match.key, match.replies) == (None, ())


def test_typing_the_enter_key_is_just_text():
    rules = parse_with_re2(
        {"@enter": VALID["text"], "default": {"type": "text", "text": "再见"}}
    ).rules
    assert hit(rules, "@enter") == ("default", BYE)


def test_a_list_keeps_its_order_and_may_end_with_a_transfer():
    rules = parse_with_re2(
        {"人工": [{"type": "text", "text": "正在转接"}, VALID["link"], {"type": "transfer"}]}
    ).rules
    _, replies = hit(rules, "人工")
    assert [type(reply) for reply in replies] == [TextReply, LinkReply, TransferReply]
    assert replies[0] == TextReply("正在转接")


def test_an_exact_keyword_beats_a_pattern_that_also_matches():
    rules = parse_with_re2(
        {"re:\\d": {"type": "text", "text": "数字"}, "1": {"type": "text", "text": "一"}}
    ).rules
    assert hit(rules, "１") == ("1", (TextReply("一"),))
    assert hit(rules, "2") == ("re:\\d", (TextReply("数字"),))


def test_patterns_are_tried_in_document_order():
    first = {"type": "text", "text": "first"}
    second = {"type": "text", "text": "second"}
    rules = parse_with_re2({"re:下载": first, "re:下载|安装": second}).rules
    assert hit(rules, "我要下载") == ("re:下载", (TextReply("first"),))
    assert hit(rules, "安装") == ("re:下载|安装", (TextReply("second"),))
    reversed_rules = parse_with_re2({"re:下载|安装": second, "re:下载": first}).rules
    assert hit(reversed_rules, "我要下载") == ("re:下载|安装", (TextReply("second"),))


def test_a_pattern_is_searched_in_the_normalised_text():
    rules = parse_with_re2({"re:^app下载$": {"type": "text", "text": "hit"}}).rules
    assert hit(rules, "  ＡＰＰ下载 \n") == ("re:^app下载$", (TextReply("hit"),))
    assert hit(rules, "APP下载吧") == (None, ())


def test_a_pattern_ignores_case_however_the_editor_wrote_it():
    rules = parse_with_re2({"re:APP": {"type": "text", "text": "hit"}}).rules
    assert hit(rules, "download app")[0] == "re:APP"


def test_the_default_answers_only_when_nothing_else_hits():
    rules = parse_with_re2(
        {
            "1": {"type": "text", "text": "一"},
            "re:下载": {"type": "text", "text": "下载"},
            "default": {"type": "text", "text": "再见"},
        }
    ).rules
    assert hit(rules, "1")[0] == "1"
    assert hit(rules, "下载吧")[0] == "re:下载"
    assert hit(rules, "12") == ("default", BYE)
    picture = ImageMessage(to_user="gh", from_user="u", create_time=1, msg_id="3")
    assert rules.match(picture).key == "default"


def test_a_pattern_with_upper_case_escapes_keeps_its_meaning():
    rules = parse_with_re2({"re:^\\S+$": {"type": "text", "text": "one word"}}).rules
    assert hit(rules, "hello")[0] == "re:^\\S+$"
    assert hit(rules, "hello world") == (None, ())


def test_a_pattern_valid_as_written_never_breaks_the_whole_document():
    parsed = parse_with_re2({"re:下载\\z": {"type": "text", "text": "hit"}, "1": VALID["text"]})
    assert parsed.problems == ()
    assert hit(parsed.rules, "我要下载")[0] == "re:下载\\z"


# --- the document as a whole -----------------------------------------------------------------


@pytest.mark.parametrize("document", [[], [CONTRACT_4], "rules", 42, None, True])
def test_a_document_that_is_not_an_object_is_refused_whole(document):
    with pytest.raises(RulesDocumentError, match="expected a JSON object"):
        parse_with_re2(document)


def test_a_wrapped_document_means_the_same_as_the_bare_one():
    wrapped = parse_with_re2({"code": 0, "msg": "ok", "data": CONTRACT_4_1}).rules
    assert wrapped.version == parse_with_re2(CONTRACT_4_1).rules.version


def test_keywords_equal_once_normalised_are_reported_and_the_first_answers():
    parsed = parse_with_re2(
        {
            "APP": {"type": "text", "text": "first"},
            "app": {"type": "text", "text": "second"},
            "1": {"type": "text", "text": "one"},
            "１": {"type": "text", "text": "full width"},
            " 1 ": {"type": "text", "text": "spaced"},
        }
    )
    assert [(p.key, str(p.problem)) for p in parsed.problems] == [
        ("app", "same keyword as 'APP' once normalised"),
        ("１", "same keyword as '1' once normalised"),
        (" 1 ", "same keyword as '1' once normalised"),
    ]
    assert hit(parsed.rules, "App") == ("APP", (TextReply("first"),))
    assert hit(parsed.rules, "1") == ("1", (TextReply("one"),))


def test_an_enter_rule_with_more_replies_than_wechat_allows_is_reported():
    text = {"type": "text", "text": "hi"}
    parsed = parse_with_re2({"@enter": [text, text, text], "1": text})
    assert [str(p) for p in parsed.problems] == [
        "@enter: 3 replies (expected at most 2 (WeChat's quota on entering))"
    ]
    assert parsed.rules.enter == ()


def test_an_empty_pattern_is_reported_instead_of_swallowing_every_message():
    parsed = parse_with_re2({"re: ": {"type": "text", "text": "x"}, "default": VALID["text"]})
    assert [p.key for p in parsed.problems] == ["re: "]
    assert len(parsed.rules.patterns) == 0
