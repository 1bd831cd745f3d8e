"""A push costs the same with 3,000 patterns as with 30: one pass of one RE2 set.

Run with `make bench`: each figure is printed as a ratio against 30 patterns in the same run,
with what searching the patterns one by one (kefu before the set) costs beside it.
"""

from __future__ import annotations

import random
import statistics
import timeit
from collections.abc import Callable
from functools import partial

import re2

from adapters.rules.patterns import PATTERN_MAX_MEM, Re2Patterns, re2_options
from domain.messages import TextMessage
from tests.documents import hostile_patterns, parse_with_re2

COUNTS = (30, 300, 3000)
# What users type: short questions, none of which any pattern below contains.
TYPED = [
    "怎么下载安装这个应用",
    "我的订单什么时候发货",
    "优惠券在哪里领取",
    "hello, is anyone there?",
    "退款多久到账",
    "13800000000",
]


def word_patterns(count: int) -> list[str]:
    """count patterns of the kind editors write: two or three words that a message may contain."""
    chance = random.Random(count)
    syllables = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动"

    def word() -> str:
        return "".join(chance.choice(syllables) for _ in range(3)) + str(chance.randrange(10**6))

    return ["|".join(word() for _ in range(chance.randint(2, 3))) for _ in range(count)]


def per_push(match: Callable[[str], object], texts: list[str]) -> float:
    """The cost of a text seen before (its DFA states built), per push: best of five rounds."""
    for text in texts:
        match(text)
    runs = 200
    best = min(timeit.repeat(lambda: [match(t) for t in texts], number=runs, repeat=5))
    return best / runs / len(texts)


def first_sight(match: Callable[[str], object]) -> float:
    """The median cost of a text never seen: the set's DFA builds its states as it goes."""
    chance = random.Random(7)
    letters = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可请问怎么"
    texts = ["".join(chance.choice(letters) for _ in range(15)) for _ in range(51)]
    return statistics.median(timeit.timeit(partial(match, text), number=1) for text in texts)


def one_set(sources: list[str]) -> Callable[[str], object]:
    # 3,000 such patterns are far over the budget: RE2 is given the memory they need.
    return Re2Patterns(set_max_mem=256 << 20).combine(sources).first


def one_by_one(sources: list[str]) -> Callable[[str], object]:
    compiled = [re2.compile(source, re2_options(PATTERN_MAX_MEM)) for source in sources]
    return lambda text: next((p for p in compiled if p.search(text) is not None), None)


def test_a_push_costs_the_same_with_3000_patterns_as_with_30():
    matchers = {n: one_set(word_patterns(n)) for n in COUNTS}
    sets = {n: per_push(matchers[n], TYPED) for n in COUNTS}
    fresh = {n: first_sight(matchers[n]) for n in COUNTS}
    singles = {n: per_push(one_by_one(word_patterns(n)), TYPED) for n in COUNTS}
    print()
    for n in COUNTS:
        print(
            f"{n} patterns: one set {sets[n] * 1e6:.2f} us/push"
            f" ({fresh[n] * 1e6:.0f} us for a text never seen),"
            f" one by one {singles[n] * 1e6:.0f} us"
        )
    ratio = sets[3000] / sets[30]
    print(f"one set ratio 3000/30: {ratio:.2f} (the same cost is 1)")
    print(f"one by one ratio 3000/30: {singles[3000] / singles[30]:.0f}")
    print(f"never-seen text ratio 3000/30: {fresh[3000] / fresh[30]:.0f} (its states then kept)")
    assert ratio < 5


def test_a_hostile_push_costs_at_most_what_the_budget_allows():
    chance = random.Random(16)
    costs = {}
    for n in COUNTS:
        rules = parse_with_re2(hostile_patterns(n)).rules
        runs = []
        for run in range(3):  # texts never seen before, so the DFA cannot have their states
            text = "".join(chance.choice("ab") for _ in range(4096))
            push = TextMessage(
                to_user="gh", from_user="u", create_time=1, msg_id=str(run), content=text
            )
            runs.append(timeit.timeit(partial(rules.match, push), number=1))
        costs[n] = statistics.median(runs)
        print(f"\nreview's document, {n} keys ({len(rules.patterns)} in force): ", end="")
        print(f"{costs[n] * 1e3:.0f} ms per 4096-character push", end="")
    ratio = costs[3000] / costs[30]
    print(f"\nhostile ratio 3000/30: {ratio:.1f} (86 patterns in force against 30: about 3)")
    assert ratio < 86 / 30 * 2
