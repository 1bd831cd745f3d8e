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
    so every sender thread of a worker can share it.

    A key's score weighs its closest question by meaning with its closest question by
    characters (each the best of the key's questions, which need not be the same one).
    """

    def __init__(self, rules: Sequence[SimilarRule], embeddings: Embeddings) -> None:
        self._texts = [text for rule in rules for text in rule.texts]
        self._keys = [rule.key for rule in rules]
        sizes = [len(rule.texts) for rule in rules]
        self._starts = np.cumsum([0, *sizes[:-1]]).astype(np.intp)  # each key's first question
        self._embeddings = embeddings
        normal = [normalise(text) for text in self._texts]
        self._vectors = embeddings.embed(normal)
        self._ngrams = NgramIndex(normal)

    def key_scores(self, text: str) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """Each key's score for (normalised) text, and each question's cosine in meaning."""
        meaning = self._vectors @ self._embeddings.embed([text])[0]
        lexical = self._ngrams.scores(text)
        best_meaning = np.maximum.reduceat(meaning, self._starts)
        best_lexical = np.maximum.reduceat(lexical, self._starts)
        weight = EMBEDDING_WEIGHT
        return np.asarray(weight * best_meaning + (1 - weight) * best_lexical, np.float32), meaning

    def rank(self, text: str, limit: int) -> tuple[Candidate, ...]:
        if not self._keys:
            return ()
        scores, meaning = self.key_scores(text)
        order = np.argsort(-scores, kind="stable")[:limit]
        return tuple(
            Candidate(self._keys[key], self._closest(key, meaning), _unit(scores[key]))
            for key in order
        )

    def _closest(self, key: int, meaning: NDArray[np.float32]) -> str:
        """The key's question closest in meaning: the one an editor is shown."""
        start = int(self._starts[key])
        end = int(self._starts[key + 1]) if key + 1 < len(self._starts) else len(self._texts)
        return self._texts[start + int(np.argmax(meaning[start:end]))]


def _unit(score: float) -> float:
    return float(min(1.0, max(0.0, score)))
