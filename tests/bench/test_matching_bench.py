"""Exact-keyword matching stays O(1) however large the rules document is.

Run with `make bench`: each figure is printed as a ratio against a small document in the same run.
"""

from __future__ import annotations

import gc
import time
import timeit

from domain.messages import TextMessage
from tests.documents import parse_with_re2


def document(size: int) -> dict[str, object]:
    rules: dict[str, object] = {str(n): {"type": "text", "text": f"reply {n}"} for n in range(size)}
    rules["re:下载|安装"] = {"type": "text", "text": "pattern"}
    rules["default"] = {"type": "text", "text": "default"}
    return rules


def per_match(size: int, typed: str) -> float:
    rules = parse_with_re2(document(size)).rules
    message = TextMessage(to_user="gh", from_user="u", create_time=1, msg_id="1", content=typed)
    runs = 20_000
    return min(timeit.repeat(lambda: rules.match(message), number=runs, repeat=5)) / runs


def parse_seconds(size: int) -> float:
    source = document(size)
    gc.collect()
    gc.disable()  # the collector's passes grow with live objects and would blur the algorithm
    try:
        started = time.perf_counter()
        parse_with_re2(source)
        return time.perf_counter() - started
    finally:
        gc.enable()


def test_exact_match_time_does_not_grow_with_the_document():
    small, large = per_match(10, " 7 "), per_match(100_000, " 99999 ")
    ratio = large / small
    print(f"\nexact match: 10 keys {small * 1e6:.2f} us, 100k keys {large * 1e6:.2f} us")
    print(f"exact match ratio 100k/10: {ratio:.2f} (O(1) is 1)")
    assert ratio < 3


def test_parsing_a_large_document_stays_near_linear():
    small, large = parse_seconds(10_000), parse_seconds(100_000)
    ratio = large / small
    print(f"\nparse: 10k keys {small:.3f} s, 100k keys {large:.3f} s")
    print(f"parse ratio 100k/10k: {ratio:.1f} (linear is 10, quadratic 100)")
    # Sorting keys for the version hash adds a log factor.
    assert ratio < 20
