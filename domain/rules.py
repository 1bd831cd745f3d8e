"""Keyword rules and matching: which replies a message earns."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field

from domain.messages import EnterSessionEvent, Message, TextMessage
from domain.pattern_set import PatternRules
from domain.replies import Reply
from domain.similar import MatchTuning, SimilarRule

DEFAULT_KEY = "default"
ENTER_KEY = "@enter"
PATTERN_PREFIX = "re:"
# User text is cut to this many characters before matching (and again once normalised: NFKC
# turns some characters into up to 18): WeChat's own messages are far shorter, and a cap keeps
# the (linear) cost of the patterns bounded per message.
MAX_MATCH_CHARS = 4096


def normalise(text: str) -> str:
    """The form both keywords and user text are compared in: NFKC, trimmed, case-folded."""
    return unicodedata.normalize("NFKC", text).strip().casefold()


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
    patterns: PatternRules = field(default_factory=PatternRules)
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
        wanted = normalise(text[:MAX_MATCH_CHARS])[:MAX_MATCH_CHARS]
        replies = self.keywords.get(wanted)
        if replies is not None:
            return Match(self.keyword_names.get(wanted, wanted), replies)
        rule = self.patterns.first_hit(wanted)
        return None if rule is None else Match(rule.key, rule.replies)
