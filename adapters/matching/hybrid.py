"""The similar-question matcher: sentence embeddings and shared characters, weighed together.

Chosen on the dev half of the BQ evaluation set (tests/bench/faq_candidates.py prints the
figures): the embedding finds paraphrases that share few characters, the character n-grams
keep apart questions that an embedding of one narrow product puts close together.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from adapters.matching.ngrams import NgramIndex
from domain.rules import normalise
from domain.similar import Candidate, SimilarRule

EMBEDDING_WEIGHT = 0.8
"""A text's score: this much of its embedding cosine, the rest of its n-gram cosine."""


class Embeddings(Protocol):
    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """One L2-normalised row per text."""
        ...


class HybridMatcher:
    """One rules version's standard and similar questions, embedded once; read-only after,
    so every sender thread of a worker can share it."""

    def __init__(self, rules: Sequence[SimilarRule], embeddings: Embeddings) -> None:
        self._texts = [text for rule in rules for text in rule.texts]
        self._owners = np.array([n for n, rule in enumerate(rules) for _ in rule.texts])
        self._keys = [rule.key for rule in rules]
        self._embeddings = embeddings
        self._vectors = embeddings.embed([normalise(text) for text in self._texts])
        self._ngrams = NgramIndex([normalise(text) for text in self._texts])

    def scores(self, text: str) -> NDArray[np.float32]:
        """Every question's score for (normalised) text, in document order."""
        if not self._texts:
            return np.zeros(0, np.float32)
        meaning = self._vectors @ self._embeddings.embed([text])[0]
        weight = EMBEDDING_WEIGHT
        return np.asarray(weight * meaning + (1 - weight) * self._ngrams.scores(text), np.float32)

    def rank(self, text: str, limit: int) -> tuple[Candidate, ...]:
        scores = self.scores(text)
        best: dict[int, int] = {}  # key -> its best question
        for row in np.argsort(-scores, kind="stable"):
            best.setdefault(int(self._owners[row]), int(row))
            if len(best) == limit:
                break
        return tuple(
            Candidate(self._keys[key], self._texts[row], float(min(1.0, max(0.0, scores[row]))))
            for key, row in best.items()
        )
