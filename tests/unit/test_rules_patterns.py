"""`re:` keys use RE2: what it refuses is reported by key, and matching cost stays bounded."""

from collections.abc import Mapping

import pytest

from adapters.rules.patterns import Re2Patterns
from domain.errors import PatternRefused
from domain.replies import TextReply
from domain.rules import MAX_MATCH_CHARS
from tests.documents import parse_with_re2

ANSWER = {"type": "text", "text": "命中"}


def hit_key(document: Mapping[str, object], typed: str) -> str | None:
    found = parse_with_re2(document).rules.match_text(typed)
    return None if found is None else found.key


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("re:(下载)\\1", "invalid escape sequence: \\1"),
        ("re:下载(?=APP)", "invalid perl operator: (?="),
        ("re:(?<!不)下载", "invalid perl operator: (?<"),
    ],
)
def test_a_pattern_re2_refuses_is_a_problem_naming_its_key(key, reason):
    parsed = parse_with_re2({key: ANSWER, "ok": ANSWER})
    [problem] = parsed.problems
    assert problem.key == key
    assert reason in str(problem.problem)
    assert "no backreferences or look-around" in str(problem.expected)
    assert hit_key({key: ANSWER, "ok": ANSWER}, "ok") == "ok"


def test_the_catastrophic_backtracking_pattern_answers_a_hostile_message():
    document = {"re:^(a+)+$": ANSWER}
    # Python's re needs minutes for this 41-character text; RE2 answers at once.
    assert hit_key(document, "a" * 40 + "!") is None
    assert hit_key(document, "a" * 40) == "re:^(a+)+$"


def test_patterns_stay_case_insensitive_and_see_the_normalised_text():
    document = {"re:^app\\d{2}$": ANSWER}
    assert hit_key(document, " ＡＰＰ１２ ") == "re:^app\\d{2}$"


def test_only_the_first_characters_of_a_long_text_are_matched():
    document = {"re:needle": ANSWER}
    assert hit_key(document, "x" * (MAX_MATCH_CHARS - 6) + "needle") == "re:needle"
    assert hit_key(document, "x" * MAX_MATCH_CHARS + "needle") is None


def test_a_hit_returns_the_rules_replies():
    found = parse_with_re2({"re:下载|安装": ANSWER}).rules.match_text("怎么安装")
    assert found is not None
    assert found.replies == (TextReply("命中"),)


def test_a_patterns_size_is_as_docs_rules_md_says():
    size = Re2Patterns().size
    assert (size("下载|安装"), size("\\d{11}"), size("\\w{1000}")) == (16, 15, 8004)
    assert size("优惠券活动") - size("优惠券活") == 3  # each further Chinese character
    assert size("coupon7") - size("coupon") == 1  # each further letter or digit
    assert size("COUPON") - size("coupo") == 1
    assert (size("ok") - size("o"), size("os") - size("o")) == (4, 3)  # K (Kelvin), ſ
    assert Re2Patterns().combine(["ok$"]).first("o\u212a") == 0  # the Kelvin sign, ignoring case


def test_re2s_memory_is_bounded_for_each_pattern_and_for_the_set():
    with pytest.raises(PatternRefused, match="pattern too large"):
        Re2Patterns().size("[^a]{1000}" * 7)  # a program over 1 MiB
    assert Re2Patterns().size("[^a]{1000}" * 6) == 54004
    # About 9,000 units each: 15 fit in the set's 8 MiB, 16 do not, 31 fit in 16 MiB. The
    # budget (2,000 units) is far inside, so a set kefu builds always compiles.
    big = [f"#{n}#[^a]{{1000}}" for n in range(31)]
    assert Re2Patterns().combine(big[:15]).first("#14#" + "b" * 1000) == 14
    with pytest.raises(PatternRefused, match="failed to compile Set"):
        Re2Patterns().combine(big[:16])
    assert Re2Patterns(set_max_mem=16 << 20).combine(big).first("#30#" + "b" * 1000) == 30
