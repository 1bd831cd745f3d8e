"""What the similar-question matcher costs a worker, for 50, 500 and 5,000 questions.

Each size runs in a fresh process (tests/bench/similar_costs.py): memory with the matcher
loaded against the same process before it, start-up (the model loaded and every question
embedded: once per rules version), and the median time to match one message.
"""

from __future__ import annotations

import json
import subprocess
import sys

from entrypoints.cli.gunicorn_process import ROOT


def costs(size: int) -> dict[str, float]:
    command = [sys.executable, "-m", "tests.bench.similar_costs", str(size)]
    found: dict[str, float] = json.loads(
        subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    )
    return found


def test_memory_startup_and_match_time_per_size() -> None:
    figures = {size: costs(size) for size in (50, 500, 5000)}
    small = figures[50]
    print()
    for found in figures.values():
        print(
            f"{found['questions']:.0f} questions: start-up {found['startup_s']:.1f} s, "
            f"match {found['match_ms']:.1f} ms per message "
            f"({found['match_ms'] / small['match_ms']:.2f} x 50 questions), "
            f"memory {found['rss_after_mb']:.0f} MB, "
            f"{found['rss_after_mb'] - found['rss_before_mb']:.0f} MB more than before the matcher"
        )
    # Matching is dominated by embedding the one message: it must not grow with the document
    # like a scan of every question in Python would.
    assert figures[5000]["match_ms"] < 5 * small["match_ms"]
