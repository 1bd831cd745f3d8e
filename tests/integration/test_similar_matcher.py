"""The similar-question matcher with the real bundled model, on small data of our own."""

from __future__ import annotations

import threading

from adapters.matching.cache import MatcherCache
from adapters.matching.e5 import E5Embeddings
from adapters.matching.hybrid import HybridMatcher
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
