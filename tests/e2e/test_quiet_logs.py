"""At INFO, a push costs one log line (its access line) and a reply at most one more."""

from __future__ import annotations

from pathlib import Path

import pytest

from entrypoints.sandbox.state import SEND_PATH
from tests.e2e.queue_rig import queue_rig
from tests.polling import wait_until


@pytest.fixture
def rig(tmp_path: Path):
    with queue_rig(tmp_path) as rig:
        yield rig


def lines(rig):
    return rig.log().splitlines()


def started(rig, workers: int = 2):
    """Every worker has logged its start-up lines (the rules it loaded come last)."""
    return rig.log().count("rules version") >= workers


def test_pushes_answered_and_replied_log_only_their_access_lines(rig):
    kefu = rig.kefu()
    users = [f"o_quiet{n}" for n in range(10)]
    rig.push(kefu.url, "text", "o_warmup")
    wait_until(lambda: rig.sent_to("o_warmup") and started(rig))
    before = len(lines(rig))
    for user in users:
        assert rig.push(kefu.url, "text", user).text == "success"
    wait_until(lambda: all(rig.sent_to(user) for user in users))
    new = lines(rig)[before:]
    assert len(new) == len(users), new
    assert all('"POST /wechat/callback" 200' in line for line in new), new


def test_a_reply_retried_once_adds_one_line_for_its_retry(rig):
    kefu = rig.kefu()
    rig.push(kefu.url, "text", "o_warmup")
    wait_until(lambda: rig.sent_to("o_warmup") and started(rig))
    before = len(lines(rig))
    rig.fault(SEND_PATH, errcode=-1)
    assert rig.push(kefu.url, "text").text == "success"
    wait_until(rig.sent_to)
    new = lines(rig)[before:]
    assert len(new) == 2, new
    assert "retry in" in new[1] or "retry in" in new[0]
