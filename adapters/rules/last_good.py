"""What both rule sources share: decoding and the last good rules (refresh timing re-exported)."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections import Counter
from collections.abc import Mapping
from typing import Any

from adapters.rules.errors import RulesFetchError
from adapters.rules.health import RulesHealth
from adapters.rules.patterns import Re2Patterns
from domain.errors import RulesDocumentError, RulesUnavailable
from domain.reply_parsing import ImageCheck
from domain.rules import RuleSet
from domain.rules_document import ParsedRules, RuleProblem, parse_rules
from domain.wording import words

log = logging.getLogger(__name__)


def decode(raw: bytes, check_image: ImageCheck | None, source: str) -> ParsedRules:
    """A document's bytes parsed key by key; RulesFetchError when it is no JSON object.

    A keyword written twice is reported: JSON keeps only the last, which the editor may not mean.
    """
    repeated: dict[int, list[str]] = {}
    try:
        document = json.loads(raw, object_pairs_hook=lambda pairs: _noting(pairs, repeated))
        parsed = parse_rules(document, check_image, patterns=Re2Patterns())
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError
        raise RulesFetchError(source, f"not JSON ({exc})") from None
    except RulesDocumentError as exc:
        raise RulesFetchError(source, str(exc)) from None
    twice = [_repeated_key(key) for key in repeated.get(id(_keywords_of(document)), [])]
    return dataclasses.replace(parsed, problems=(*parsed.problems, *twice))


def _noting(pairs: list[tuple[str, Any]], repeated: dict[int, list[str]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        counts = Counter(key for key, _ in pairs)
        repeated[id(result)] = [key for key, count in counts.items() if count > 1]
    return result


def _keywords_of(document: object) -> object:
    # The same choice as domain.rules_document.unwrap: the object the keywords live in.
    inner = document.get("data") if isinstance(document, Mapping) else None
    return inner if isinstance(inner, Mapping) and "type" not in inner else document


def _repeated_key(key: str) -> RuleProblem:
    twice = words("appears more than once in the document")
    return RuleProblem(key, "", twice, words("each keyword once"))


def usable(parsed: ParsedRules, source: str) -> ParsedRules:
    """parsed, unless nothing in it can answer: more likely a CMS error envelope than intent."""
    if not rule_count(parsed.rules):
        rejected = len(parsed.problems)
        raise RulesFetchError(source, f"no usable rules ({rejected} rejected)")
    return parsed


def rule_count(rules: RuleSet) -> int:
    """Accepted keys, so that this plus the rejected ones is every key of the document."""
    return len(rules.keywords) + len(rules.patterns) + bool(rules.default) + bool(rules.enter)


class LastGoodRules:
    """The rules in force, kept through failures; logs once per version and per failure episode."""

    def __init__(self, source: str) -> None:
        self._source = source
        self.health = RulesHealth(source)
        self._rules: RuleSet | None = None
        self._logged: tuple[str, tuple[RuleProblem, ...]] | None = None
        self._failing = False
        self._why = "not loaded yet"

    @property
    def rules(self) -> RuleSet | None:
        return self._rules

    def current(self) -> RuleSet:
        rules = self._rules
        if rules is None:
            raise RulesUnavailable(f"no rules loaded from {self._source}: {self._why}")
        return rules

    def accept(self, parsed: ParsedRules, origin: str) -> None:
        self._rules = parsed.rules
        version = parsed.rules.version
        self.health.accepted(version, rule_count(parsed.rules), len(parsed.problems))
        if self._logged == (version, parsed.problems):
            return
        self._logged = (version, parsed.problems)
        count, rejected = rule_count(parsed.rules), len(parsed.problems)
        log.info(
            "rules version %s: %d keywords, %d rejected (%s)", version, count, rejected, origin
        )
        for problem in parsed.problems:
            log.warning("rules version %s rejected %s", version, problem)

    def succeeded(self) -> None:
        self.health.succeeded()
        if self._failing:
            self._failing = False
            log.info("rules from %s available again", self._source)

    def fail(self, reason: str) -> None:
        # NOTE: one line per episode, and another whenever the reason changes within it (HTTP 500,
        # then HTML, then a timeout), so an operator sees every way the CMS is failing.
        self.health.failed(reason)
        if self._failing and reason == self._why:
            return
        self._why = reason
        self._failing = True
        if self._rules is None:
            log.error("rules from %s unavailable: %s; no rules in force", self._source, reason)
        else:
            version = self._rules.version
            log.warning(
                "rules from %s unavailable: %s; keeping version %s", self._source, reason, version
            )
