"""Keyword rules and matching: which replies a message earns."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from domain.messages import EnterSessionEvent, Message, TextMessage
from domain.replies import Reply
from domain.similar import MatchTuning, SimilarRule

DEFAULT_KEY = "default"
ENTER_KEY = "@enter"
PATTERN_PREFIX = "re:"
# User text is cut to this many characters before matching: WeChat's own messages are far
# shorter, and a cap keeps the (linear) cost of every pattern bounded per message.
MAX_MATCH_CHARS = 4096


class TextPattern(Protocol):
    """A compiled `re:` pattern; its matching time must be linear in the text, never exponential."""

    def search(self, text: str) -> object | None: ...


class PatternCompiler(Protocol):
    def __call__(self, source: str) -> TextPattern:
        """The pattern for source (already NFKC-normalised), case-insensitive.

        Raises PatternRefused when the engine cannot match it in linear time or it is malformed.
        """
        ...


def normalise(text: str) -> str:
    """The form both keywords and user text are compared in: NFKC, trimmed, case-folded."""
    return unicodedata.normalize("NFKC", text).strip().casefold()


@dataclass(frozen=True)
class PatternRule:
    key: str
    pattern: TextPattern
    replies: tuple[Reply, ...]


@dataclass(frozen=True)
class Match:
    """The outcome of matching: the rule key that hit (None when nothing did) and its replies."""

    key: str | None
    replies: tuple[Reply, ...]


@dataclass(frozen=True)
class RuleSet:
    """One version of the rules, ready for O(1) exact matching."""

    keywords: Mapping[str, tuple[Reply, ...]] = field(default_factory=dict)
    keyword_names: Mapping[str, str] = field(default_factory=dict)
    patterns: tuple[PatternRule, ...] = ()
    default: tuple[Reply, ...] = ()
    enter: tuple[Reply, ...] = ()
    version: str = ""
    # Keys with similar questions, matched after the reply job is queued (domain.similar).
    similar: tuple[SimilarRule, ...] = ()
    tuning: MatchTuning = field(default_factory=MatchTuning)

    def match(self, message: Message) -> Match:
        if isinstance(message, EnterSessionEvent):
            return Match(ENTER_KEY, self.enter) if self.enter else Match(None, ())
        if isinstance(message, TextMessage):
            hit = self.match_text(message.content)
            if hit is not None:
                return hit
        elif not message.is_user_message:
            return Match(None, ())
        return Match(DEFAULT_KEY, self.default) if self.default else Match(None, ())

    def match_text(self, text: str) -> Match | None:
        """The keyword or pattern rule text hits, or None (the default is not considered)."""
        wanted = normalise(text[:MAX_MATCH_CHARS])
        replies = self.keywords.get(wanted)
        if replies is not None:
            return Match(self.keyword_names.get(wanted, wanted), replies)
        for rule in self.patterns:
            if rule.pattern.search(wanted) is not None:
                return Match(rule.key, rule.replies)
        return None
