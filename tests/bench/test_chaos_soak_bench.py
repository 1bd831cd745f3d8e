"""Ten minutes of chaos (issue 19 item 8), the same soak as tests/e2e/test_chaos_soak.py: its
table per cause and its timeline of queue depth, RSS and log lines. CHAOS_SECONDS and CHAOS_SEED
change the length and the faults."""

from __future__ import annotations

import os
from pathlib import Path

from tests.chaos.soak import run_soak

SECONDS = float(os.environ.get("CHAOS_SECONDS", "600"))
SEED = int(os.environ.get("CHAOS_SEED", "19"))


def test_ten_minutes_of_chaos(tmp_path: Path) -> None:
    soak = run_soak(tmp_path, duration=SECONDS, seed=SEED, sample_every=15.0, drain=180.0)
    print(soak.report)
    print(f"record of every push, send and fault: {tmp_path / 'chaos.json'}")
    assert all(push.acked_at is not None for push in soak.pushes), soak.report
    assert soak.count(lambda fate: fate.lost) == 0, soak.report
    assert soak.count(lambda fate: fate.duplicates) == 0, soak.report
    assert soak.count(lambda fate: fate.overtaken_unexplained) == 0, soak.report
