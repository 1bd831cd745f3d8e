"""A minute of chaos (issue 19 item 8): mixed traffic against kefu under gunicorn with Redis and a
`kefu worker`, while WeChat answers -1 and 45009, stalls sends and uploads, a gunicorn worker is
SIGKILLed, Redis restarts and the `kefu worker` restarts. `make bench` runs ten minutes of it."""

from __future__ import annotations

import os
import time
from pathlib import Path

from tests.chaos.soak import run_soak

SEED = int(os.environ.get("CHAOS_SEED", "19"))


def test_a_minute_of_chaos_loses_duplicates_and_reorders_no_reply(tmp_path: Path) -> None:
    started = time.monotonic()
    soak = run_soak(tmp_path, duration=60, seed=SEED, drain=45.0)
    print(soak.report)
    assert all(push.acked_at is not None for push in soak.pushes), soak.report
    assert len(soak.fates) > 250, soak.report  # about 6 pushes a second got through
    assert {fault.cause for fault in soak.injected} >= {
        "gunicorn worker SIGKILL",
        "Redis restart",
        "kefu worker restart",
    }
    assert soak.count(lambda fate: fate.lost) == 0, soak.report
    assert soak.count(lambda fate: fate.duplicates) == 0, soak.report
    assert soak.count(lambda fate: fate.overtaken_unexplained) == 0, soak.report
    assert time.monotonic() - started < 150, soak.report
