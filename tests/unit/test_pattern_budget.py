"""`re:` keys within a budget, all matched in one pass with the first in document order winning."""

from __future__ import annotations

from collections.abc import Mapping

from domain.pattern_set import MAX_PATTERN_KEYS, MAX_PATTERN_SIZE
from domain.rules import MAX_MATCH_CHARS
from domain.rules_document import ParsedRules, parse_rules
from tests.documents import parse_with_re2
from tests.fakes import FakePatternEngine

DEFAULT = {"type": "text", "text": "默认"}


def answer(name: str) -> dict[str, str]:
    return {"type": "text", "text": name}


def parsed_with(engine: FakePatternEngine, document: Mapping[str, object]) -> ParsedRules:
    return parse_rules(document, patterns=engine)


def hit_key(parsed: ParsedRules, typed: str) -> str | None:
    found = parsed.rules.match_text(typed)
    return None if found is None else found.key


def problems_of(parsed: ParsedRules) -> dict[str, str]:
    return {p.key: f"{p.problem} (expected {p.expected})" for p in parsed.problems}


def test_the_first_pattern_in_document_order_wins_not_the_first_found_in_the_text():
    document = {"re:b": answer("b"), "re:a": answer("a"), "re:c": answer("c")}
    for parsed in (parsed_with(FakePatternEngine(), document), parse_with_re2(document)):
        assert hit_key(parsed, "a b c") == "re:b"
        assert hit_key(parsed, "c a") == "re:a"
        assert hit_key(parsed, "xyz") is None


def test_an_exact_keyword_still_beats_every_pattern_and_the_set_is_not_searched():
    engine = FakePatternEngine()
    parsed = parsed_with(engine, {"re:1": answer("pattern"), "1": answer("keyword")})
    assert hit_key(parsed, " １ ") == "1"
    assert engine.searches == []
    assert hit_key(parsed, "12") == "re:1"


def test_a_message_is_searched_once_however_many_patterns_there_are():
    engine = FakePatternEngine()
    document = {f"re:word{n:03d}": answer(str(n)) for n in range(MAX_PATTERN_KEYS)}
    parsed = parsed_with(engine, document)
    assert hit_key(parsed, "say WORD199 and word150") == "re:word150"
    assert engine.searches == ["say word199 and word150"]  # once, in the normalised text


def test_keys_beyond_the_count_are_reported_by_name_and_the_rest_answer():
    document: dict[str, object] = {f"re:k{n}$": answer(str(n)) for n in range(MAX_PATTERN_KEYS + 2)}
    document["default"] = DEFAULT
    parsed = parsed_with(FakePatternEngine(), document)
    over = [f"re:k{MAX_PATTERN_KEYS}$", f"re:k{MAX_PATTERN_KEYS + 1}$"]
    expected = "beyond the first 200 re: keys (expected at most 200 re: keys in a document)"
    assert problems_of(parsed) == dict.fromkeys(over, expected)
    assert len(parsed.rules.patterns) == MAX_PATTERN_KEYS
    assert hit_key(parsed, f"k{MAX_PATTERN_KEYS - 1}") == f"re:k{MAX_PATTERN_KEYS - 1}$"
    assert parsed.rules.match_text(f"k{MAX_PATTERN_KEYS}") is None  # the default answers


def test_a_pattern_larger_than_what_is_left_is_left_out_and_smaller_ones_after_it_fit():
    first = "a" * (MAX_PATTERN_SIZE - 10)
    document = {f"re:{first}": answer("1"), "re:" + "b" * 11: answer("2"), "re:c": answer("3")}
    parsed = parsed_with(FakePatternEngine(), document)
    expected = "pattern size 11 is more than the 10 left of the budget"
    assert problems_of(parsed) == {
        "re:" + "b" * 11: f"{expected} (expected re: patterns of total size at most 2000)"
    }
    assert hit_key(parsed, "b" * 11 + "c") == "re:c"
    assert hit_key(parsed, first) == f"re:{first}"


def test_a_pattern_that_does_not_compile_spends_none_of_the_budget():
    document: dict[str, object] = {"re:(": answer("x")}
    document.update({f"re:k{n}$": answer(str(n)) for n in range(MAX_PATTERN_KEYS)})
    parsed = parsed_with(FakePatternEngine(), document)
    assert list(problems_of(parsed)) == ["re:("]
    assert len(parsed.rules.patterns) == MAX_PATTERN_KEYS


def test_a_set_the_engine_refuses_is_reported_per_key_and_keywords_still_answer():
    document = {"re:a": answer("a"), "re:b": answer("b"), "1": answer("1")}
    parsed = parsed_with(FakePatternEngine(refuse_sets=True), document)
    said = "patterns do not compile together: out of memory"
    assert [(p.key, str(p.problem)) for p in parsed.problems] == [("re:a", said), ("re:b", said)]
    assert hit_key(parsed, "1") == "1"
    assert hit_key(parsed, "a") is None


def test_a_text_that_normalising_lengthens_is_still_cut_to_the_cap():
    # NFKC writes U+FDFA as 18 characters: 300 of them become 5,400.
    document = {"re:x$": answer("end")}
    assert hit_key(parse_with_re2(document), "\ufdfa" * 200 + "x") == "re:x$"
    assert hit_key(parse_with_re2(document), "\ufdfa" * 300 + "x") is None
    assert 18 * 200 < MAX_MATCH_CHARS < 18 * 300


def test_re2_sizes_are_its_program_sizes_so_a_repeat_costs_what_it_repeats():
    parsed = parse_with_re2({"re:\\w{1000}": answer("long"), "re:下载|安装": answer("ok")})
    assert problems_of(parsed) == {
        "re:\\w{1000}": "pattern size 8004 is more than the 2000 left of the budget"
        " (expected re: patterns of total size at most 2000)"
    }
    assert hit_key(parsed, "怎么安装") == "re:下载|安装"
