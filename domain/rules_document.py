"""The CMS rules document (contract section 4 and 4.1): parsed and checked key by key."""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, replace

from domain.errors import PatternRefused, RulesDocumentError
from domain.pattern_set import PatternEngine, PatternRule, PatternRules, within_budget
from domain.quotas import MAX_ENTER_REPLIES, MAX_REPLIES
from domain.replies import Reply
from domain.reply_parsing import ImageCheck, InvalidRule, parse_reply
from domain.rules import DEFAULT_KEY, ENTER_KEY, PATTERN_PREFIX, RuleSet, normalise
from domain.similar import MatchTuning, SimilarRule
from domain.similar_document import MATCH_KEY, parse_tuning, similar_rules, split_similar
from domain.wording import Words, got, words


@dataclass(frozen=True)
class RuleProblem:
    """One thing wrong with one keyword, phrased for a CMS editor."""

    key: str
    field: str
    problem: Words
    expected: Words

    def __str__(self) -> str:
        where = f"{self.key}.{self.field}" if self.field else self.key
        return f"{where}: {self.problem} (expected {self.expected})"


@dataclass(frozen=True)
class ParsedRules:
    rules: RuleSet
    problems: tuple[RuleProblem, ...]
    summaries: Mapping[str, tuple[Reply, ...]]


def unwrap(document: object) -> Mapping[str, object]:
    """The keyword mapping, whether bare or wrapped as {"data": {...}}."""
    if not isinstance(document, Mapping):
        raise RulesDocumentError(f"expected a JSON object, got {type(document).__name__}")
    inner = document.get("data")
    # NOTE: a rule object has a "type"; a wrapped document's "data" is keyword -> rule.
    if isinstance(inner, Mapping) and "type" not in inner:
        document = inner
    return {str(k): v for k, v in document.items()}


def parse_rules(
    document: object, check_image: ImageCheck | None = None, *, patterns: PatternEngine
) -> ParsedRules:
    """Every valid key becomes a rule; every invalid key is left out and reported.

    `patterns` compiles `re:` keys; it must match in linear time (the rules adapter gives RE2).
    """
    entries = unwrap(document)
    problems: list[RuleProblem] = []
    parsed: dict[str, tuple[Reply, ...]] = {}
    similar: dict[str, tuple[str, ...]] = {}
    tuning = MatchTuning()
    sizes: dict[str, int] = {}
    for key, value in entries.items():
        try:
            size = _check_key(key, patterns)
            if key == MATCH_KEY:
                tuning = parse_tuning(value)
                continue
            questions, value = split_similar(value)
            if questions is not None:
                _check_similar_key(key)
                similar[key] = questions
            parsed[key] = _check_count(key, _parse_replies(value, check_image))
        except InvalidRule as bad:
            problems.append(RuleProblem(key, bad.field, bad.problem, bad.expected))
            continue
        if size is not None:
            sizes[key] = size
    rules = _build(parsed, problems, _pattern_rules(parsed, sizes, problems, patterns))
    matched, refused = similar_rules(similar, parsed)
    problems.extend(RuleProblem(*problem) for problem in refused)
    version = _version(parsed, matched, tuning)
    rules = replace(rules, similar=matched, tuning=tuning, version=version)
    return ParsedRules(rules, tuple(problems), parsed)


def _check_similar_key(key: str) -> None:
    if key in (DEFAULT_KEY, ENTER_KEY) or key.startswith(PATTERN_PREFIX):
        only = words("only a keyword can have similar questions")
        raise InvalidRule("similar", only, words("a keyword"))


def _check_key(key: str, patterns: PatternEngine) -> int | None:
    """A `re:` key's size in the pattern budget; None for any other key."""
    if key.startswith("@") and key not in (ENTER_KEY, MATCH_KEY):
        known = words("{enter!r}, {match!r} or a keyword", enter=ENTER_KEY, match=MATCH_KEY)
        raise InvalidRule("", words("unknown special key"), known)
    if key.startswith(PATTERN_PREFIX):
        if not key[len(PATTERN_PREFIX) :].strip():
            empty = words("empty pattern would match every message")
            raise InvalidRule("", empty, words("a regex after 're:'"))
        try:
            return patterns.size(pattern_source(key))
        except PatternRefused as refused:
            problem = words("regular expression does not compile: {why}", why=refused.reason)
            raise InvalidRule("", problem, _RE2_EXPECTED) from None
    if not normalise(key):
        raise InvalidRule(
            "", words("keyword is empty after trimming"), words("a non-empty keyword")
        )
    return None


def _check_count(key: str, replies: tuple[Reply, ...]) -> tuple[Reply, ...]:
    if key == ENTER_KEY and len(replies) > MAX_ENTER_REPLIES:
        quota = words("at most {limit} (WeChat's quota on entering)", limit=MAX_ENTER_REPLIES)
        raise InvalidRule("", _replies(replies), quota)
    return replies


def _pattern_rules(
    parsed: Mapping[str, tuple[Reply, ...]],
    sizes: Mapping[str, int],
    problems: list[RuleProblem],
    engine: PatternEngine,
) -> PatternRules:
    """The `re:` keys that fit the budget, in document order, in one set."""
    admitted, refused = within_budget(list(sizes.items()))
    problems.extend(RuleProblem(over.key, "", over.problem, over.expected) for over in refused)
    if not admitted:
        return PatternRules()
    try:
        matcher = engine.combine([pattern_source(key) for key in admitted])
    except PatternRefused as refused_set:
        # NOTE: the budget keeps every set within the engine's memory; should one still not
        # compile, its keys are reported rather than the whole document refused.
        problem = words("patterns do not compile together: {why}", why=refused_set.reason)
        problems.extend(RuleProblem(key, "", problem, _RE2_EXPECTED) for key in admitted)
        return PatternRules()
    return PatternRules(tuple(PatternRule(key, parsed[key]) for key in admitted), matcher)


def _build(
    parsed: Mapping[str, tuple[Reply, ...]], problems: list[RuleProblem], patterns: PatternRules
) -> RuleSet:
    keywords: dict[str, tuple[Reply, ...]] = {}
    names: dict[str, str] = {}
    for key, replies in parsed.items():
        if key in (DEFAULT_KEY, ENTER_KEY) or key.startswith(PATTERN_PREFIX):
            continue
        norm = normalise(key)
        if norm in keywords:
            problems.append(RuleProblem(key, "", _same_as(names[norm]), words("unique")))
            continue
        keywords[norm], names[norm] = replies, key
    return RuleSet(
        keywords=keywords,
        keyword_names=names,
        patterns=patterns,
        default=parsed.get(DEFAULT_KEY, ()),
        enter=parsed.get(ENTER_KEY, ()),
        version=_version(parsed),
    )


def pattern_source(key: str) -> str:
    """A `re:` key's pattern, to search in normalised text.

    NFKC here and case-insensitivity in the engine stand in for the text's normalisation;
    casefolding the pattern itself would rewrite escapes (\\S into \\s).
    """
    return unicodedata.normalize("NFKC", key[len(PATTERN_PREFIX) :]).strip()


_RE2_EXPECTED = words("a regex in RE2 syntax: no backreferences or look-around")


def _same_as(key: str) -> Words:
    return words("same keyword as {key!r} once normalised", key=key)


def _replies(replies: tuple[Reply, ...] | list[object]) -> Words:
    return words("{count} replies", count=len(replies))


def _version(
    parsed: Mapping[str, tuple[Reply, ...]],
    similar: tuple[SimilarRule, ...] = (),
    tuning: MatchTuning | None = None,
) -> str:
    document = {k: [repr(r) for r in v] for k, v in parsed.items()}
    # A document without similar questions or @match keeps the version it had before.
    if similar:
        document["@similar"] = [repr((rule.key, rule.questions)) for rule in similar]
    if tuning is not None and tuning != MatchTuning():
        document["@match"] = [repr(tuning)]
    text = json.dumps(document, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _parse_replies(value: object, check_image: ImageCheck | None) -> tuple[Reply, ...]:
    if isinstance(value, Mapping):
        return (parse_reply(value, "", check_image),)
    if not isinstance(value, list):
        raise InvalidRule("", got(value), words("a reply object or a list of them"))
    if not value:
        raise InvalidRule("", words("empty list"), words("1 to {limit} replies", limit=MAX_REPLIES))
    if len(value) > MAX_REPLIES:
        quota = words("at most {limit} (WeChat's quota)", limit=MAX_REPLIES)
        raise InvalidRule("", _replies(value), quota)
    replies = []
    for index, item in enumerate(value):
        if not isinstance(item, Mapping):
            raise InvalidRule(f"[{index}]", got(item), words("a reply object"))
        replies.append(parse_reply(item, f"[{index}].", check_image))
    return tuple(replies)
