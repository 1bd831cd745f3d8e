"""What the preview shows about similar questions: the closest keys for a text, and for a
frequent unmatched text the standard question nearest to it with the JSON to paste."""

from __future__ import annotations

import json

from domain.errors import KefuError
from domain.ports import Matchers, RuleSource
from domain.rules import normalise
from domain.similar import Candidate, judge

View = dict[str, object]


class SimilarExplainer:
    """Asks the matcher the service uses (the same one per rules version) about a text."""

    def __init__(self, rules: RuleSource, matchers: Matchers) -> None:
        self._rules = rules
        self._matchers = matchers

    def verdict(self, text: str) -> View | None:
        """The top candidates and the one that answers; None when no key has `similar`."""
        try:
            rules = self._rules.current()
            if not rules.similar:
                return None
            found = judge(self._matchers.for_rules(rules), normalise(text), rules.tuning)
        except KefuError:
            return None
        answer = found.answer
        return {
            "confidence": round(found.confidence, 3),
            "threshold": rules.tuning.threshold,
            "answer": answer.key if answer is not None else None,
            "candidates": [_candidate(c) for c in found.candidates],
        }

    def nearest(self, text: str) -> View | None:
        """The nearest standard question for an unmatched text, with its similar list to paste
        into the CMS with the text added; None when no key has `similar`."""
        verdict = self.verdict(text)
        if verdict is None or not verdict["candidates"]:
            return None
        assert isinstance(verdict["candidates"], list)
        best: View = verdict["candidates"][0]
        rules = self._rules.current()
        rule = next(rule for rule in rules.similar if rule.key == best["key"])
        paste = {"similar": [*rule.questions, text]}
        return {**best, "paste": json.dumps(paste, ensure_ascii=False)}


def _candidate(candidate: Candidate) -> View:
    return {
        "key": candidate.key,
        "question": candidate.text,
        "score": round(candidate.score * 100),
    }
