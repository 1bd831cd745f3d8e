"""Hand-written in-memory fakes for every domain port, with state tests can read."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from domain.errors import (
    DeliveryError,
    KefuError,
    MediaUnavailable,
    PatternRefused,
    RulesUnavailable,
)
from domain.jobs import ReplyJob
from domain.replies import ImageRef, Outbound
from domain.rules import RuleSet, normalise
from domain.similar import Candidate, SimilarRule
from domain.stats import DayStats, Hit
from domain.wording import words
from tests.documents import parse_with_re2


class FakeRuleSource:
    def __init__(self, document: object | None = None) -> None:
        self.rules = None if document is None else parse_with_re2(document).rules

    def current(self) -> RuleSet:
        if self.rules is None:
            raise RulesUnavailable("no rules loaded")
        return self.rules


@dataclass
class FakeMediaIds:
    available: set[str] = field(default_factory=set)
    uploaded: list[str] = field(default_factory=list)
    forgotten: list[str] = field(default_factory=list)

    def media_id_for(self, ref: ImageRef) -> str:
        if ref.value not in self.available:
            raise MediaUnavailable(ref.value, words("upload failed"))
        self.uploaded.append(ref.value)
        return f"media:{ref.value}"

    def forget(self, ref: ImageRef) -> None:
        self.forgotten.append(ref.value)


@dataclass
class FakeMessenger:
    """Records sends; `failures` fail the next sends, `fail_at` the Nth attempt (1-based)."""

    sent: list[tuple[str, Outbound]] = field(default_factory=list)
    typing: list[str] = field(default_factory=list)
    failures: list[DeliveryError] = field(default_factory=list)
    fail_at: dict[int, DeliveryError] = field(default_factory=dict)
    typing_failure: DeliveryError | None = None
    attempts: int = 0

    def send(self, to_user: str, message: Outbound) -> None:
        self.attempts += 1
        if self.failures:
            raise self.failures.pop(0)
        if self.attempts in self.fail_at:
            raise self.fail_at[self.attempts]
        self.sent.append((to_user, message))

    def set_typing(self, to_user: str) -> None:
        if self.typing_failure is not None:
            raise self.typing_failure
        self.typing.append(to_user)


@dataclass
class FakeDispatcher:
    jobs: list[ReplyJob] = field(default_factory=list)

    def dispatch(self, job: ReplyJob) -> None:
        self.jobs.append(job)


@dataclass
class FakeStateStore:
    """A dict without expiry; `broken` makes every call fail like an unreachable store."""

    values: dict[str, str] = field(default_factory=dict)
    broken: bool = False

    def _check(self) -> None:
        if self.broken:
            raise KefuError("state store unreachable")

    def add(self, key: str, value: str, ttl: float) -> bool:
        self._check()
        if key in self.values:
            return False
        self.values[key] = value
        return True

    def get(self, key: str) -> str | None:
        self._check()
        return self.values.get(key)

    def set(self, key: str, value: str, ttl: float) -> None:
        self._check()
        self.values[key] = value

    def delete(self, key: str) -> None:
        self._check()
        self.values.pop(key, None)

    @contextmanager
    def lock(self, name: str, timeout: float) -> Iterator[bool]:
        self._check()
        yield self.add(f"lock:{name}", "held", timeout)
        self.values.pop(f"lock:{name}", None)


@dataclass
class FakeClock:
    """A clock that moves only when the test says so."""

    now: float = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class FakeHitStats:
    """Keeps every recorded hit in order; `broken` makes recording fail like a lost store."""

    hits: list[Hit] = field(default_factory=list)
    broken: bool = False

    def record(self, hit: Hit) -> None:
        if self.broken:
            raise KefuError("statistics store unreachable")
        self.hits.append(hit)

    def days(self, count: int) -> tuple[DayStats, ...]:
        return ()


@dataclass
class FakePatternEngine:
    """Python's re (fine on the tests' own patterns); a pattern's size is its length.

    `searches` counts passes over a text, and `refuse_sets` makes combine fail.
    """

    refuse_sets: bool = False
    searches: list[str] = field(default_factory=list)

    def size(self, source: str) -> int:
        try:
            re.compile(source)
        except re.error as bad:
            raise PatternRefused(str(bad)) from None
        return len(source)

    def combine(self, sources: Sequence[str]) -> FakePatternSet:
        if self.refuse_sets:
            raise PatternRefused("out of memory")
        return FakePatternSet([re.compile(s, re.IGNORECASE) for s in sources], self.searches)


@dataclass
class FakePatternSet:
    patterns: list[re.Pattern[str]]
    searches: list[str]

    def first(self, text: str) -> int | None:
        self.searches.append(text)
        hits = (index for index, p in enumerate(self.patterns) if p.search(text) is not None)
        return next(hits, None)


class FakeMatchers:
    """Similar questions scored by shared characters (Jaccard), one matcher per rules version;
    `builds` counts how many were made, `broken` makes matching fail like a lost model."""

    def __init__(self, broken: bool = False) -> None:
        self.builds = 0
        self.broken = broken
        self._made: dict[str, CharacterMatcher] = {}

    def for_rules(self, rules: RuleSet) -> CharacterMatcher:
        if rules.version not in self._made:
            self.builds += 1
            self._made[rules.version] = CharacterMatcher(rules.similar, self.broken)
        return self._made[rules.version]


class CharacterMatcher:
    def __init__(self, rules: tuple[SimilarRule, ...], broken: bool) -> None:
        self._texts = [(rule.key, text) for rule in rules for text in rule.texts]
        self._broken = broken

    def rank(self, text: str, limit: int) -> tuple[Candidate, ...]:
        if self._broken:
            raise KefuError("matcher unavailable")
        best: dict[str, Candidate] = {}
        for key, question in self._texts:
            mine, theirs = set(text), set(normalise(question))
            score = len(mine & theirs) / len(mine | theirs)
            if key not in best or score > best[key].score:
                best[key] = Candidate(key, question, score)
        return tuple(sorted(best.values(), key=lambda c: -c.score)[:limit])
