"""Similar questions on real customer questions (the shared BQ set), through the running service.

`make bench` pushes every held-out question and every out-of-scope question of both halves to
kefu under gunicorn, as WeChat would, and reads what the WeChat sandbox was asked to send: the
right key's reply, another key's, or the default. The defaults were chosen on the dev half
(tests/bench/faq_candidates.py); the test half's figures are the honest ones. It also prints
the ack latency of these pushes against pushes that hit a keyword exactly, in the same run.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.bench.faq_data import faq_file, load, rules_document
from tests.bench.test_reply_queue_bench import percentile
from tests.e2e.queue_rig import QueueRig, queue_rig
from tests.polling import wait_until

DEFAULT = "默认回复"
GOAL_RIGHT, GOAL_FALSE = 0.75, 0.05


def test_accuracy_and_false_answers_through_the_push_path(tmp_path: Path) -> None:
    path = faq_file()
    assert path is not None, "needs the shared BQ set: ../shared/reference/faq/bq_faq.json"
    intents, halves = load(path)
    replies = {intent.key: intent.reply for intent in intents}
    with queue_rig(tmp_path) as rig:
        document = rules_document(intents, DEFAULT)
        (tmp_path / "rules.json").write_text(json.dumps(document, ensure_ascii=False), "utf-8")
        kefu = rig.kefu(workers=1, KEFU_SENDERS="2")
        asked: dict[str, tuple[str, str | None]] = {}  # user -> (half, the reply expected)
        latency: dict[str, list[float]] = {"similar": [], "exact": []}
        pushes: list[tuple[str, str, str | None]] = [
            (h.name, text, replies[key]) for h in halves.values() for key, text in h.queries
        ]
        pushes += [(h.name, text, None) for h in halves.values() for text in h.negatives]
        for n, (half_name, text, expected) in enumerate(pushes):
            user = f"o_bq{n}"
            asked[user] = (half_name, expected)
            latency["similar"].append(_timed(rig, kefu.url, text, user))
        for n, intent in enumerate(intents * 4):  # exact hits: the same path without matching
            user = f"o_exact{n}"
            latency["exact"].append(_timed(rig, kefu.url, intent.key, user))
        total = len(pushes) + 4 * len(intents)
        wait_until(lambda: len(rig.state.sent) >= total, timeout=600)
        got = {str(body["touser"]): _text(body) for body in rig.state.sent}
    figures = {}
    for name, half in halves.items():
        mine = [(expected, got.get(user)) for user, (h, expected) in asked.items() if h == name]
        right = sum(expected is not None and seen == expected for expected, seen in mine)
        false = sum(expected is None and seen != DEFAULT for expected, seen in mine)
        share_right, share_false = right / len(half.queries), false / len(half.negatives)
        figures[name] = (share_right, share_false)
        print(
            f"\n{name} half: {right}/{len(half.queries)} questions answered right "
            f"({share_right:.1%}), {false}/{len(half.negatives)} out-of-scope answered "
            f"with a rule's reply ({share_false:.1%})"
        )
    similar_p99, exact_p99 = (percentile(latency[k], 0.99) for k in ("similar", "exact"))
    print(
        f"ack p99: similar-question pushes {similar_p99 * 1e3:.1f} ms, exact keywords "
        f"{exact_p99 * 1e3:.1f} ms, ratio {similar_p99 / exact_p99:.2f} (goal: near 1)"
    )
    test_right, test_false = figures["test"]
    met = "met" if test_right >= GOAL_RIGHT and test_false <= GOAL_FALSE else "NOT met"
    print(
        f"goal on the test half (>= {GOAL_RIGHT:.0%} right, <= {GOAL_FALSE:.0%} false answers): "
        f"{met}"
    )
    # The defaults were chosen for this on the dev half: through the service it must hold there.
    assert figures["dev"][1] <= GOAL_FALSE, figures


def _timed(rig: QueueRig, url: str, text: str, user: str) -> float:
    started = time.perf_counter()
    assert rig.push(url, text, user).text == "success"
    return time.perf_counter() - started


def _text(body: object) -> str:
    assert isinstance(body, dict)
    text = body.get("text")
    return str(text.get("content")) if isinstance(text, dict) else ""
