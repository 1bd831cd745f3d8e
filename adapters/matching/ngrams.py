"""Character 1- and 2-gram TF-IDF over a fixed list of texts: the lexical half of the matcher.

Chinese has no spaces, so characters and their pairs stand in for words; no dictionary
(jieba) is needed, and a misspelt or unknown word still shares most of its characters.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

Vector = NDArray[np.float32]


def grams(text: str) -> Counter[str]:
    """Every character and every pair of neighbouring characters, white space dropped."""
    chars = "".join(text.split())
    return Counter([*chars, *(chars[i : i + 2] for i in range(len(chars) - 1))])


class NgramIndex:
    """Cosine similarity of a text to each indexed text, through an inverted index, so a
    message costs time in the texts sharing its grams rather than in the whole list."""

    def __init__(self, texts: Sequence[str]) -> None:
        counted = [grams(text) for text in texts]
        frequency = Counter(gram for found in counted for gram in found)
        self._size = len(texts)
        self._idf = {gram: self._weight(n) for gram, n in frequency.items()}
        postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for row, found in enumerate(counted):
            for gram, weight in self._unit(found).items():
                postings[gram].append((row, weight))
        self._postings = {
            gram: (
                np.fromiter((row for row, _ in pairs), np.int32, len(pairs)),
                np.fromiter((weight for _, weight in pairs), np.float32, len(pairs)),
            )
            for gram, pairs in postings.items()
        }

    def scores(self, text: str) -> Vector:
        """One cosine (0..1) per indexed text, in their order."""
        total = np.zeros(self._size, np.float32)
        for gram, weight in self._unit(grams(text)).items():
            found = self._postings.get(gram)
            if found is not None:
                rows, weights = found
                total[rows] += weights * weight
        return total

    def _weight(self, frequency: int) -> float:
        return math.log((self._size + 1) / (frequency + 1) + 1.0)

    def _unit(self, found: Counter[str]) -> dict[str, float]:
        """TF-IDF weights scaled to length 1; a gram no indexed text has weighs as the rarest."""
        rare = self._weight(0)
        weights = {
            gram: (1.0 + math.log(n)) * self._idf.get(gram, rare) for gram, n in found.items()
        }
        length = math.sqrt(sum(w * w for w in weights.values())) or 1.0
        return {gram: w / length for gram, w in weights.items()}
