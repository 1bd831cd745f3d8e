"""The rules document's similar questions (contract section 4.2) and `@match`, checked."""

from __future__ import annotations

from collections.abc import Mapping

from domain.replies import Reply, TransferReply
from domain.reply_parsing import InvalidRule
from domain.rules import normalise
from domain.similar import MatchTuning, SimilarRule

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
        raise InvalidRule(extra[0], "unknown field", '"similar" and "reply" only')
    if "reply" not in value:
        raise InvalidRule("reply", "missing", "a reply object or a list of them")
    return _questions(value["similar"]), value["reply"]


def _questions(found: object) -> tuple[str, ...]:
    expected = f"a list of 1 to {MAX_SIMILAR} questions"
    if not isinstance(found, list) or not found:
        what = "empty list" if isinstance(found, list) else f"got {type(found).__name__}"
        raise InvalidRule("similar", what, expected)
    if len(found) > MAX_SIMILAR:
        raise InvalidRule("similar", f"{len(found)} questions", expected)
    seen: set[str] = set()
    for index, question in enumerate(found):
        at = f"similar[{index}]"
        if not isinstance(question, str) or not normalise(question):
            raise InvalidRule(at, f"empty or not text ({question!r})", "a non-empty question")
        if len(question) > MAX_QUESTION_CHARS:
            chars = f"{len(question)} characters"
            raise InvalidRule(at, chars, f"at most {MAX_QUESTION_CHARS}: one question")
        if normalise(question) in seen:
            raise InvalidRule(at, f"{question!r} is listed twice", "each question once")
        seen.add(normalise(question))
    return tuple(found)


def parse_tuning(value: object) -> MatchTuning:
    """The `@match` object. Raises InvalidRule."""
    if not isinstance(value, Mapping):
        raise InvalidRule("", f"got {type(value).__name__}", '{"threshold": …, "margin": …}')
    numbers: dict[str, float] = {}
    for name, number in value.items():
        if name not in _TUNING_RANGES:
            raise InvalidRule(str(name), "unknown setting", '"threshold" or "margin"')
        low, high = _TUNING_RANGES[name]
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise InvalidRule(name, f"got {number!r}", f"a number from {low} to {high}")
        if not low <= number <= high:
            raise InvalidRule(name, f"{number} is out of range", f"a number from {low} to {high}")
        numbers[name] = float(number)
    return MatchTuning(**numbers)


def similar_rules(
    questions: Mapping[str, tuple[str, ...]], replies: Mapping[str, tuple[Reply, ...]]
) -> tuple[tuple[SimilarRule, ...], list[tuple[str, str, str, str]]]:
    """The keys that match by similarity, and (key, field, problem, expected) for the others.

    A question may stand for one key only; a key whose replies hand over to a human is left
    out, because a transfer is decided while WeChat waits, before any similarity matching.
    """
    rules: list[SimilarRule] = []
    problems: list[tuple[str, str, str, str]] = []
    owner: dict[str, str] = {normalise(key): key for key in questions}
    total = 0
    for key, listed in questions.items():
        if key not in replies:
            continue
        if any(isinstance(reply, TransferReply) for reply in replies[key]):
            why = "a transfer is never answered by a similar question (only exact and re: keys)"
            problems.append((key, "similar", why, "no similar on a transfer key"))
            continue
        clash = _clash(key, listed, owner)
        if clash is not None:
            problems.append((key, *clash))
            continue
        total += 1 + len(listed)
        if total > MAX_DOCUMENT_TEXTS:
            limit = f"at most {MAX_DOCUMENT_TEXTS} questions in one document"
            problems.append((key, "similar", "too many questions in the document", limit))
            continue
        rules.append(SimilarRule(key, listed, replies[key]))
    return tuple(rules), problems


def _clash(key: str, listed: tuple[str, ...], owner: dict[str, str]) -> tuple[str, str, str] | None:
    for index, question in enumerate(listed):
        taken = owner.setdefault(normalise(question), key)
        if taken != key:
            where, problem = f"similar[{index}]", f"{question!r} belongs to {taken!r} already"
            return where, problem, "each question under one key"
    return None
