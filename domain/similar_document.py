"""The rules document's similar questions (contract section 4.2) and `@match`, checked."""

from __future__ import annotations

from collections.abc import Mapping

from domain.replies import Reply, TransferReply
from domain.reply_parsing import InvalidRule
from domain.rules import normalise
from domain.similar import MatchTuning, SimilarRule
from domain.wording import Words, got, not_text, words

MATCH_KEY = "@match"
MAX_SIMILAR = 100
"""Similar questions one key may have: more are better spent as keys of their own."""
MAX_QUESTION_CHARS = 200
MAX_DOCUMENT_TEXTS = 20_000
"""Standard plus similar questions in one document: the matcher is built from all of them."""
_TUNING_RANGES = {"threshold": (0.0, 1.0), "margin": (0.0, 1.0)}


def split_similar(value: object) -> tuple[tuple[str, ...] | None, object]:
    """(similar questions, the reply value) of a key's value; (None, value) for plain replies.

    Raises InvalidRule for a malformed `{"similar": [...], "reply": ...}` object.
    """
    if not isinstance(value, Mapping) or "similar" not in value:
        return None, value
    extra = sorted(set(value) - {"similar", "reply"})
    if extra:
        raise InvalidRule(extra[0], words("unknown field"), words('"similar" and "reply" only'))
    if "reply" not in value:
        raise InvalidRule("reply", words("missing"), words("a reply object or a list of them"))
    return _questions(value["similar"]), value["reply"]


def _questions(found: object) -> tuple[str, ...]:
    expected = words("a list of 1 to {limit} questions", limit=MAX_SIMILAR)
    if not isinstance(found, list) or not found:
        what = words("empty list") if isinstance(found, list) else got(found)
        raise InvalidRule("similar", what, expected)
    if len(found) > MAX_SIMILAR:
        raise InvalidRule("similar", words("{count} questions", count=len(found)), expected)
    seen: set[str] = set()
    for index, question in enumerate(found):
        at = f"similar[{index}]"
        if not isinstance(question, str) or not normalise(question):
            raise InvalidRule(at, not_text(question), words("a non-empty question"))
        if len(question) > MAX_QUESTION_CHARS:
            chars = words("{count} characters", count=len(question))
            limit = words("at most {limit}: one question", limit=MAX_QUESTION_CHARS)
            raise InvalidRule(at, chars, limit)
        if normalise(question) in seen:
            twice = words("{question!r} is listed twice", question=question)
            raise InvalidRule(at, twice, words("each question once"))
        seen.add(normalise(question))
    return tuple(found)


def parse_tuning(value: object) -> MatchTuning:
    """The `@match` object. Raises InvalidRule."""
    if not isinstance(value, Mapping):
        raise InvalidRule("", got(value), words('{{"threshold": …, "margin": …}}'))
    numbers: dict[str, float] = {}
    for name, number in value.items():
        if name not in _TUNING_RANGES:
            raise InvalidRule(str(name), words("unknown setting"), words('"threshold" or "margin"'))
        low, high = _TUNING_RANGES[name]
        between = words("a number from {low} to {high}", low=low, high=high)
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise InvalidRule(name, words("got {value!r}", value=number), between)
        if not low <= number <= high:
            raise InvalidRule(name, words("{number} is out of range", number=number), between)
        numbers[name] = float(number)
    return MatchTuning(**numbers)


def similar_rules(
    questions: Mapping[str, tuple[str, ...]], replies: Mapping[str, tuple[Reply, ...]]
) -> tuple[tuple[SimilarRule, ...], list[tuple[str, str, Words, Words]]]:
    """The keys that match by similarity, and (key, field, problem, expected) for the others.

    A question may stand for one key only; a key whose replies hand over to a human is left
    out, because a transfer is decided while WeChat waits, before any similarity matching.
    """
    rules: list[SimilarRule] = []
    problems: list[tuple[str, str, Words, Words]] = []
    owner: dict[str, str] = {normalise(key): key for key in questions}
    total = 0
    for key, listed in questions.items():
        if key not in replies:
            continue
        if any(isinstance(reply, TransferReply) for reply in replies[key]):
            why = words(
                "a transfer is never answered by a similar question (only exact and re: keys)"
            )
            problems.append((key, "similar", why, words("no similar on a transfer key")))
            continue
        clash = _clash(key, listed, owner)
        if clash is not None:
            problems.append((key, *clash))
            continue
        total += 1 + len(listed)
        if total > MAX_DOCUMENT_TEXTS:
            limit = words("at most {limit} questions in one document", limit=MAX_DOCUMENT_TEXTS)
            many = words("too many questions in the document")
            problems.append((key, "similar", many, limit))
            continue
        rules.append(SimilarRule(key, listed, replies[key]))
    return tuple(rules), problems


def _clash(
    key: str, listed: tuple[str, ...], owner: dict[str, str]
) -> tuple[str, Words, Words] | None:
    for index, question in enumerate(listed):
        taken = owner.setdefault(normalise(question), key)
        if taken != key:
            problem = words("{question!r} belongs to {key!r} already", question=question, key=taken)
            return f"similar[{index}]", problem, words("each question under one key")
    return None
