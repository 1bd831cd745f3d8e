"""One matcher per rules version per process, built on first use and shared by its threads."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from domain.rules import RuleSet
from domain.similar import QuestionMatcher, SimilarRule

log = logging.getLogger(__name__)

Build = Callable[[Sequence[SimilarRule]], QuestionMatcher]


class MatcherCache:
    """The `Matchers` port: keeps the matcher of the latest rules version only; a thread that
    asks while it is being built waits for that one build rather than starting its own."""

    def __init__(self, build: Build) -> None:
        self._build = build
        self._lock = threading.Lock()
        self._version: str | None = None
        self._matcher: QuestionMatcher | None = None

    def for_rules(self, rules: RuleSet) -> QuestionMatcher:
        with self._lock:
            if self._matcher is None or self._version != rules.version:
                started = time.monotonic()
                self._matcher = self._build(rules.similar)
                self._version = rules.version
                texts = sum(len(rule.texts) for rule in rules.similar)
                log.info(
                    "similar-question matcher for rules version %s: %d questions in %.1f s",
                    rules.version,
                    texts,
                    time.monotonic() - started,
                )
            return self._matcher
