"""One process's cost of the similar-question matcher over SIZE made-up questions, as JSON.

    python -m tests.bench.similar_costs SIZE

Run in a fresh process by test_similar_costs_bench.py, so memory and start-up are its own.
"""

from __future__ import annotations

import json
import random
import resource
import statistics
import sys
import time

from adapters.matching.cache import MatcherCache
from adapters.matching.e5 import E5Embeddings
from adapters.matching.hybrid import HybridMatcher
from domain.rules import RuleSet
from domain.similar import MatchTuning, SimilarRule, judge

# Common characters of customer-service questions; the texts only need their length and mix.
CHARS = (
    "我想要怎么如何为什么可以不能没有申请借款还款额度银行卡手机号码修改更换解绑账户利息到账时间多久"
)
PER_KEY = 4  # a standard question and three similar ones


def made_up(rng: random.Random) -> str:
    return "".join(rng.choice(CHARS) for _ in range(rng.randint(6, 18)))


def rules(size: int) -> RuleSet:
    rng = random.Random(size)
    keys = [
        SimilarRule(f"{made_up(rng)}{n}", tuple(made_up(rng) for _ in range(PER_KEY - 1)), ())
        for n in range(size // PER_KEY)
    ]
    return RuleSet(similar=tuple(keys), version=f"bench-{size}")


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(size: int) -> dict[str, float]:
    ruleset = rules(size)
    before = rss_mb()
    started = time.perf_counter()
    matchers = MatcherCache(lambda similar: HybridMatcher(similar, E5Embeddings()))
    matcher = matchers.for_rules(ruleset)
    startup = time.perf_counter() - started
    rng = random.Random(1)
    texts = [made_up(rng) for _ in range(30)]
    times = []
    for text in texts:
        started = time.perf_counter()
        judge(matchers.for_rules(ruleset), text, MatchTuning())
        times.append(time.perf_counter() - started)
    assert matchers.for_rules(ruleset) is matcher  # built once per version
    return {
        "questions": size // PER_KEY * PER_KEY,
        "startup_s": startup,
        "match_ms": statistics.median(times) * 1e3,
        "rss_before_mb": before,
        "rss_after_mb": rss_mb(),
    }


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]))))
