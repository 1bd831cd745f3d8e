"""The similar-question matcher with the real bundled model, on small data of our own."""

from __future__ import annotations

import threading

import numpy as np

from adapters.matching.cache import MatcherCache
from adapters.matching.e5 import E5Embeddings
from adapters.matching.hybrid import HybridMatcher
from adapters.matching.whitening import Whitening
from domain.rules import RuleSet
from domain.similar import MatchTuning, SimilarRule, judge

RULES = (
    SimilarRule("怎么更换手机号", ("如何更改预留手机号码", "我想换手机号"), ()),
    SimilarRule("怎么解绑银行卡", ("银行卡不用了怎么解绑", "如何取消绑定的银行卡"), ()),
    SimilarRule("营业时间", ("你们几点上班", "周末营业吗"), ()),
)
EMBEDDINGS = E5Embeddings()


def test_a_paraphrase_ranks_its_key_first_with_its_closest_question():
    matcher = HybridMatcher(RULES, EMBEDDINGS)
    first, second, third = matcher.rank("银行卡怎么解除绑定", 3)
    assert first.key == "怎么解绑银行卡"
    assert first.text in RULES[1].texts
    assert 1 >= first.score > second.score >= third.score >= 0
    assert judge(matcher, "银行卡怎么解除绑定", MatchTuning()).answer == first


def test_a_question_no_key_covers_is_left_to_the_default():
    matcher = HybridMatcher(RULES, EMBEDDINGS)
    assert judge(matcher, "今天的天气怎么样", MatchTuning()).answer is None


def test_one_matcher_per_rules_version_shared_by_threads():
    builds: list[int] = []

    def build(rules):
        builds.append(len(rules))
        return HybridMatcher(rules, EMBEDDINGS)

    cache = MatcherCache(build)
    version_1 = RuleSet(similar=RULES, version="v1")
    found: list[object] = []
    threads = [
        threading.Thread(target=lambda: found.append(cache.for_rules(version_1))) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert builds == [3] and len({id(matcher) for matcher in found}) == 1
    cache.for_rules(RuleSet(similar=RULES[:2], version="v2"))
    assert builds == [3, 2]


def test_a_document_without_similar_questions_ranks_nothing():
    assert HybridMatcher((), EMBEDDINGS).rank("随便", 3) == ()


def test_a_document_of_one_key_answers_its_paraphrases_and_nothing_else():
    matcher = HybridMatcher(RULES[:1], EMBEDDINGS)
    assert judge(matcher, "我想更改手机号码", MatchTuning()).answer is not None
    assert judge(matcher, "今天的天气怎么样", MatchTuning()).answer is None


def test_an_unrelated_question_scores_far_below_a_paraphrase():
    matcher = HybridMatcher(RULES, EMBEDDINGS)
    (paraphrase, *_), (unrelated, *_) = matcher.rank("周末上班吗", 3), matcher.rank("我要投诉", 3)
    assert paraphrase.key == "营业时间" and paraphrase.score > unrelated.score + 0.3


def test_whitening_shrinks_what_a_keys_questions_differ_in_and_keeps_what_keys_differ_in():
    # Two keys apart along axis 0; each key's two questions differ along axis 1 (wording).
    rows = [(1.0, 0.5, 0.1), (1.0, -0.5, 0.1), (-1.0, 0.5, 0.1), (-1.0, -0.5, 0.1)]
    vectors = np.asarray(rows, np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    everyday = np.zeros((1, 3), np.float32)
    mapped = Whitening(vectors, [0, 0, 1, 1], everyday).apply(vectors)
    assert float(mapped[0] @ mapped[1]) > float(vectors[0] @ vectors[1])  # wording counts less
    assert float(mapped[0] @ mapped[2]) < 0  # the keys stay apart
    assert np.allclose(np.linalg.norm(mapped, axis=1), 1.0)
