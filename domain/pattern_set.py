"""The `re:` keys of a document: a budget that bounds what a push can cost, matched in one pass."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from domain.replies import Reply
from domain.wording import Words, words

# The budget of a document's `re:` keys, spent in document order. A push's worst case costs
# about (characters matched) x (total size): 20-40 ns per unit per character measured for RE2,
# so 2,000 units keep a hostile 4096-character message near a quarter of a second, where
# 1,000 patterns of the review's kind (23 units each) took seconds.
MAX_PATTERN_KEYS = 200
MAX_PATTERN_SIZE = 2000


class PatternSet(Protocol):
    """Every pattern of a document, searched in one pass over the text."""

    def first(self, text: str) -> int | None:
        """The index (in the order given) of the first pattern found in text, or None."""
        ...


class PatternEngine(Protocol):
    """Compiles `re:` patterns; matching time must be linear in the text, never exponential."""

    def size(self, source: str) -> int:
        """What source costs in the engine's units (per character matched).

        source is already NFKC-normalised and is matched case-insensitively. Raises
        PatternRefused when the engine cannot match it in linear time or it is malformed.
        """
        ...

    def combine(self, sources: Sequence[str]) -> PatternSet:
        """All sources (each accepted by size) in one set. Raises PatternRefused if it cannot."""
        ...


@dataclass(frozen=True)
class PatternRule:
    key: str
    replies: tuple[Reply, ...]


@dataclass(frozen=True)
class PatternRules:
    """The `re:` rules in force, in document order, and the set that matches them all."""

    rules: tuple[PatternRule, ...] = ()
    matcher: PatternSet | None = None

    def __len__(self) -> int:
        return len(self.rules)

    def first_hit(self, text: str) -> PatternRule | None:
        """The first rule in document order whose pattern is found in text."""
        index = None if self.matcher is None else self.matcher.first(text)
        return None if index is None else self.rules[index]


@dataclass(frozen=True)
class OverBudget:
    """A `re:` key left out because the keys before it spent the budget."""

    key: str
    problem: Words
    expected: Words


def within_budget(sizes: Sequence[tuple[str, int]]) -> tuple[list[str], list[OverBudget]]:
    """The keys (with their sizes, in document order) that fit the budget, and those that don't.

    A key that does not fit is left out; later, smaller ones may still fit.
    """
    admitted: list[str] = []
    refused: list[OverBudget] = []
    spent = 0
    for key, size in sizes:
        if len(admitted) == MAX_PATTERN_KEYS:
            count = words("at most {limit} re: keys in a document", limit=MAX_PATTERN_KEYS)
            beyond = words("beyond the first {limit} re: keys", limit=MAX_PATTERN_KEYS)
            refused.append(OverBudget(key, beyond, count))
        elif spent + size > MAX_PATTERN_SIZE:
            left = MAX_PATTERN_SIZE - spent
            total = words("re: patterns of total size at most {limit}", limit=MAX_PATTERN_SIZE)
            more = words(
                "pattern size {size} is more than the {left} left of the budget",
                size=size,
                left=left,
            )
            refused.append(OverBudget(key, more, total))
        else:
            admitted.append(key)
            spent += size
    return admitted, refused
