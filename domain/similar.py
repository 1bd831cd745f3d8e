"""Similar questions (相似问法): which standard question a user's sentence asks, and how sure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from domain.replies import Reply

# Chosen on the dev half of the BQ evaluation set only (tests/bench/faq_candidates.py): the
# lowest confidence (rounded up) that answered at most 4 % of its out-of-scope questions
# (73 % answered right there), one point below the 5 % allowed: a threshold set at exactly 5 %
# of about a hundred questions answered 6 % of fresh ones on average when the dev half was
# split in two. A lead of 0.005 only keeps a near tie from being a coin toss.
DEFAULT_THRESHOLD = 0.324
DEFAULT_MARGIN = 0.005
LEAD_WEIGHT = 0.5
"""How much the lead over the runner-up key counts in the confidence, against the score
itself: chosen on the dev half (0.25 and 1 do a little worse)."""
TOP_CANDIDATES = 3


@dataclass(frozen=True)
class SimilarRule:
    """A key with similar questions: the key is the standard question, matched like them."""

    key: str
    questions: tuple[str, ...]
    replies: tuple[Reply, ...]

    @property
    def texts(self) -> tuple[str, ...]:
        """Every text that stands for this key: its standard question first."""
        return (self.key, *self.questions)


@dataclass(frozen=True)
class MatchTuning:
    """When a similarity match answers: its confidence (0..1: its score weighed with its lead
    over the runner-up key) reaches `threshold`, and the lead is at least `margin`."""

    threshold: float = DEFAULT_THRESHOLD
    margin: float = DEFAULT_MARGIN


@dataclass(frozen=True)
class Candidate:
    """A key a text may ask for, with the closest of its texts and that text's score (0..1)."""

    key: str
    text: str
    score: float


@dataclass(frozen=True)
class Verdict:
    """The ranked candidates (best first) and the one that answers, if any."""

    candidates: tuple[Candidate, ...]
    answer: Candidate | None

    @property
    def confidence(self) -> float:
        return confidence(self.candidates)


class QuestionMatcher(Protocol):
    """Similar-question search over one rules version's keys with `similar`."""

    def rank(self, text: str, limit: int) -> tuple[Candidate, ...]:
        """Up to `limit` keys, best first, one candidate per key; text is normalised."""
        ...


def confidence(candidates: tuple[Candidate, ...]) -> float:
    """The best score and its lead over the second key, weighed (0..1, as the scores): sure
    only when both agree. A text no key covers scores about the same against several."""
    if not candidates:
        return 0.0
    return weighed(candidates[0].score, lead(candidates))


def weighed(score: float, lead: float) -> float:
    """A best score and its lead as one confidence (0..1)."""
    return (score + LEAD_WEIGHT * lead) / (1 + LEAD_WEIGHT)


def lead(candidates: tuple[Candidate, ...]) -> float:
    if not candidates:
        return 0.0
    runner_up = candidates[1].score if len(candidates) > 1 else 0.0
    return candidates[0].score - runner_up


def decide(candidates: tuple[Candidate, ...], tuning: MatchTuning) -> Verdict:
    """Which candidate answers: confident enough and far enough ahead, else none."""
    sure = (
        bool(candidates)
        and confidence(candidates) >= tuning.threshold
        and lead(candidates) >= tuning.margin
    )
    return Verdict(candidates, candidates[0] if sure else None)


def judge(matcher: QuestionMatcher, text: str, tuning: MatchTuning) -> Verdict:
    """The top candidates for normalised text and the one that answers, if any."""
    return decide(matcher.rank(text, TOP_CANDIDATES), tuning)
