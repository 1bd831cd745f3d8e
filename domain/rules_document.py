"""The CMS rules document (contract section 4 and 4.1): parsed and checked key by key."""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from domain.errors import RulesDocumentError
from domain.replies import (
    ImageRef,
    ImageReply,
    LinkReply,
    MiniProgramPageReply,
    Reply,
    TextReply,
    TransferReply,
)
from domain.rules import DEFAULT_KEY, ENTER_KEY, PATTERN_PREFIX, PatternRule, RuleSet, normalise

MAX_REPLIES = 5  # WeChat's quota of sends per user message
MAX_ENTER_REPLIES = 2  # WeChat allows 2 sends in the minute after a user enters the chat
MAX_TEXT_BYTES = 2048  # NOTE: undocumented; WeChat answers 45002 above this (reference section 10)

# Returns what is wrong with an image reference, or None when it is usable.
ImageCheck = Callable[[ImageRef], "str | None"]


@dataclass(frozen=True)
class RuleProblem:
    """One thing wrong with one keyword, phrased for a CMS editor."""

    key: str
    field: str
    problem: str
    expected: str

    def __str__(self) -> str:
        where = f"{self.key}.{self.field}" if self.field else self.key
        return f"{where}: {self.problem} (expected {self.expected})"


@dataclass(frozen=True)
class ParsedRules:
    rules: RuleSet
    problems: tuple[RuleProblem, ...]
    summaries: Mapping[str, tuple[Reply, ...]]


class _Invalid(Exception):
    def __init__(self, field: str, problem: str, expected: str) -> None:
        super().__init__(problem)
        self.field, self.problem, self.expected = field, problem, expected


def unwrap(document: object) -> Mapping[str, object]:
    """The keyword mapping, whether bare or wrapped as {"data": {...}}."""
    if not isinstance(document, Mapping):
        raise RulesDocumentError(f"expected a JSON object, got {type(document).__name__}")
    inner = document.get("data")
    # NOTE: a rule object has a "type"; a wrapped document's "data" is keyword -> rule.
    if isinstance(inner, Mapping) and "type" not in inner:
        document = inner
    return {str(k): v for k, v in document.items()}


def parse_rules(document: object, check_image: ImageCheck | None = None) -> ParsedRules:
    """Every valid key becomes a rule; every invalid key is left out and reported."""
    entries = unwrap(document)
    problems: list[RuleProblem] = []
    parsed: dict[str, tuple[Reply, ...]] = {}
    for key, value in entries.items():
        try:
            _check_key(key)
            parsed[key] = _check_count(key, _parse_replies(value, check_image))
        except _Invalid as bad:
            problems.append(RuleProblem(key, bad.field, bad.problem, bad.expected))
    rules = _build(parsed, problems)
    return ParsedRules(rules, tuple(problems), parsed)


def _check_key(key: str) -> None:
    if key.startswith("@") and key != ENTER_KEY:
        raise _Invalid("", "unknown special key", f"{ENTER_KEY!r} or a keyword")
    if key.startswith(PATTERN_PREFIX):
        if not key[len(PATTERN_PREFIX) :].strip():
            raise _Invalid("", "empty pattern would match every message", "a regex after 're:'")
        try:
            compile_pattern(key)
        except re.error as exc:
            problem = f"regular expression does not compile: {exc}"
            raise _Invalid("", problem, "a valid regex") from None
    elif not normalise(key):
        raise _Invalid("", "keyword is empty after trimming", "a non-empty keyword")


def _check_count(key: str, replies: tuple[Reply, ...]) -> tuple[Reply, ...]:
    if key == ENTER_KEY and len(replies) > MAX_ENTER_REPLIES:
        quota = f"at most {MAX_ENTER_REPLIES} (WeChat's quota on entering)"
        raise _Invalid("", f"{len(replies)} replies", quota)
    return replies


def _build(parsed: Mapping[str, tuple[Reply, ...]], problems: list[RuleProblem]) -> RuleSet:
    keywords: dict[str, tuple[Reply, ...]] = {}
    names: dict[str, str] = {}
    patterns: list[PatternRule] = []
    for key, replies in parsed.items():
        if key in (DEFAULT_KEY, ENTER_KEY):
            continue
        if key.startswith(PATTERN_PREFIX):
            patterns.append(PatternRule(key, compile_pattern(key), replies))
            continue
        norm = normalise(key)
        if norm in keywords:
            problems.append(
                RuleProblem(key, "", f"same keyword as {names[norm]!r} once normalised", "unique")
            )
            continue
        keywords[norm], names[norm] = replies, key
    return RuleSet(
        keywords=keywords,
        keyword_names=names,
        patterns=tuple(patterns),
        default=parsed.get(DEFAULT_KEY, ()),
        enter=parsed.get(ENTER_KEY, ()),
        version=_version(parsed),
    )


def compile_pattern(key: str) -> re.Pattern[str]:
    """A `re:` key's pattern, to search in normalised text.

    NFKC and IGNORECASE stand in for the text's normalisation; casefolding the pattern itself
    would rewrite escapes (\\S into \\s).
    """
    source = unicodedata.normalize("NFKC", key[len(PATTERN_PREFIX) :]).strip()
    return re.compile(source, re.IGNORECASE)


def _version(parsed: Mapping[str, tuple[Reply, ...]]) -> str:
    text = json.dumps({k: [repr(r) for r in v] for k, v in parsed.items()}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _parse_replies(value: object, check_image: ImageCheck | None) -> tuple[Reply, ...]:
    if isinstance(value, Mapping):
        return (_parse_reply(value, "", check_image),)
    if not isinstance(value, list):
        raise _Invalid("", f"got {type(value).__name__}", "a reply object or a list of them")
    if not value:
        raise _Invalid("", "empty list", f"1 to {MAX_REPLIES} replies")
    if len(value) > MAX_REPLIES:
        raise _Invalid("", f"{len(value)} replies", f"at most {MAX_REPLIES} (WeChat's quota)")
    replies = []
    for index, item in enumerate(value):
        if not isinstance(item, Mapping):
            raise _Invalid(f"[{index}]", f"got {type(item).__name__}", "a reply object")
        replies.append(_parse_reply(item, f"[{index}].", check_image))
    return tuple(replies)


def _parse_reply(rule: Mapping[str, object], at: str, check: ImageCheck | None) -> Reply:
    kind = rule.get("type")
    if kind == "text":
        field = "text" if "text" in rule else "description"
        content = _required(rule, field, at)
        if len(content.encode()) > MAX_TEXT_BYTES:
            size = len(content.encode())
            raise _Invalid(at + field, f"{size} UTF-8 bytes", f"at most {MAX_TEXT_BYTES}")
        return TextReply(content)
    if kind == "link":
        url = _required(rule, "url", at)
        if not ImageRef(url).is_url:
            raise _Invalid(at + "url", f"{url!r} is not a web address", "an http(s) URL")
        title, desc = _required(rule, "title", at), _required(rule, "description", at)
        return LinkReply(title, desc, url, _required(rule, "thumb_url", at))
    if kind == "image":
        field = "imageurl" if "imageurl" in rule else "url"
        return ImageReply(_image(rule, field, at, check))
    if kind == "miniprogrampage":
        title, pagepath = _required(rule, "title", at), _required(rule, "pagepath", at)
        return MiniProgramPageReply(title, pagepath, _image(rule, "thumb", at, check))
    if kind == "transfer":
        return TransferReply()
    known = "text, link, image, miniprogrampage or transfer"
    found = "missing" if kind is None else f"unknown type {kind!r}"
    raise _Invalid(at + "type", found, known)


def _required(rule: Mapping[str, object], field: str, at: str) -> str:
    value = rule.get(field)
    if not isinstance(value, str) or not value.strip():
        found = "missing" if value is None else f"empty or not text ({value!r})"
        raise _Invalid(at + field, found, "a non-empty string")
    return value


def _image(rule: Mapping[str, object], field: str, at: str, check: ImageCheck | None) -> ImageRef:
    ref = ImageRef(_required(rule, field, at).strip())
    if not ref.is_url and re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", ref.value):
        raise _Invalid(
            at + field,
            f"{ref.value!r} is not a web address or a path",
            "an http(s) URL or a file path",
        )
    problem = check(ref) if check is not None else None
    if problem:
        raise _Invalid(at + field, problem, "an image under the media root")
    return ref
