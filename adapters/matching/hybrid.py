"""The similar-question matcher: what a text means, against what each key's questions share,
weighed with the characters they share.

Chosen on the dev half of the BQ evaluation set (tests/bench/faq_candidates.py prints the
figures): the embedding, mapped so that keys stand apart (whitening.py), finds paraphrases that
share few characters; the character n-grams add what an embedding of one narrow product blurs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from adapters.matching.ngrams import NgramIndex
from adapters.matching.whitening import EVERYDAY_QUESTIONS, Whitening, unit_rows
from domain.rules import normalise
from domain.similar import Candidate, SimilarRule

NGRAM_WEIGHT = 0.1
"""A key's score: this much of its best n-gram cosine, the rest of its meaning cosine."""


class Embeddings(Protocol):
    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """One L2-normalised row per text."""
        ...


class HybridMatcher:
    """One rules version's standard and similar questions, embedded once; read-only after,
    so every sender thread of a worker can share it.

    A key's meaning is the centre of its questions once whitened (what they share, not how
    each is worded); its lexical score is its question closest by characters.
    """

    def __init__(
        self,
        rules: Sequence[SimilarRule],
        embeddings: Embeddings,
        ngram_weight: float = NGRAM_WEIGHT,
    ) -> None:
        self._ngram_weight = ngram_weight
        self._texts = [text for rule in rules for text in rule.texts]
        self._keys = [rule.key for rule in rules]
        sizes = [len(rule.texts) for rule in rules]
        self._starts = np.cumsum([0, *sizes[:-1]]).astype(np.intp)  # each key's first question
        self._embeddings = embeddings
        normal = [normalise(text) for text in self._texts]
        self._vectors = embeddings.embed(normal)
        self._ngrams = NgramIndex(normal)
        if self._keys:
            owners = [key for key, size in enumerate(sizes) for _ in range(size)]
            everyday = embeddings.embed([normalise(text) for text in EVERYDAY_QUESTIONS])
            self._whitening = Whitening(self._vectors, owners, everyday)
            mapped = self._whitening.apply(self._vectors)
            self._centres = unit_rows(np.add.reduceat(mapped, self._starts, axis=0))

    def key_scores(self, text: str) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """Each key's score (0..1) for (normalised) text, and each question's cosine."""
        vector = self._embeddings.embed([text])
        meaning = self._centres @ self._whitening.apply(vector)[0]
        lexical = np.maximum.reduceat(self._ngrams.scores(text), self._starts)
        scores = (1 - self._ngram_weight) * meaning + self._ngram_weight * lexical
        return np.clip(scores, 0.0, 1.0).astype(np.float32), self._vectors @ vector[0]

    def rank(self, text: str, limit: int) -> tuple[Candidate, ...]:
        if not self._keys:
            return ()
        scores, cosines = self.key_scores(text)
        order = np.argsort(-scores, kind="stable")[:limit]
        return tuple(
            Candidate(self._keys[key], self._closest(key, cosines), float(scores[key]))
            for key in order
        )

    def _closest(self, key: int, cosines: NDArray[np.float32]) -> str:
        """The key's question closest in meaning: the one an editor is shown."""
        start = int(self._starts[key])
        end = int(self._starts[key + 1]) if key + 1 < len(self._starts) else len(self._texts)
        return self._texts[start + int(np.argmax(cosines[start:end]))]
