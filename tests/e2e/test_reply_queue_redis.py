"""The reply queue in Redis: a whole instance killed mid-reply, and Redis itself gone."""

from __future__ import annotations

import os
import secrets
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from entrypoints.sandbox.state import SEND_PATH
from tests.e2e.queue_rig import UPLOAD_PATH, QueueRig, queue_rig
from tests.polling import wait_until
from tests.redis_server import OwnRedis


@pytest.fixture
def shared_redis(redis_client: redis.Redis) -> Iterator[str]:
    """A mini program of the test's own in the test Redis: its keys are its own, removed after."""
    appid = "wx" + secrets.token_hex(8)
    yield appid
    for pattern in (f"kefu:{appid}:*", f"*kefu{appid}*"):
        keys = list(redis_client.scan_iter(pattern))
        if keys:
            redis_client.delete(*keys)


@pytest.fixture
def rig(tmp_path: Path, redis_url: str, shared_redis: str) -> Iterator[QueueRig]:
    with queue_rig(tmp_path, appid=shared_redis, KEFU_REDIS_URL=redis_url) as rig:
        yield rig


def test_killing_the_whole_instance_mid_reply_leaves_the_reply_to_the_other_once(rig):
    first = rig.kefu("first")
    rig.fault(UPLOAD_PATH, stall=20)
    assert rig.push(first.url, "image").text == "success"
    wait_until(rig.fault_taken)  # the first instance is uploading
    second = rig.kefu("second")
    assert first.pid is not None
    os.killpg(first.pid, signal.SIGKILL)  # master and workers: the host is gone
    wait_until(rig.sent_to, timeout=45)
    assert [body["msgtype"] for body in rig.sent_to()] == ["image"]
    assert "re-queued" in rig.log("second")
    assert second.url


OUTAGE = 10.0  # seconds Redis is stopped or frozen


def outage_pushes(rig, kefu, users: list[str]) -> list[float]:
    """Push once for each user during the outage, a second apart; each ack's seconds."""
    acks = []
    for user in users:
        started = time.monotonic()
        assert rig.push(kefu.url, "text", user).text == "success"
        acks.append(time.monotonic() - started)
        time.sleep(1.0)
    return acks


@pytest.mark.parametrize("outage", ["stopped", "frozen"])
def test_with_redis_down_or_frozen_every_reply_comes_once_and_acks_stay_fast(tmp_path, outage):
    server = OwnRedis()
    server.start()
    with queue_rig(tmp_path, KEFU_REDIS_URL=server.url) as rig:
        rig.stack.callback(server.kill)
        kefu = rig.kefu()
        assert rig.push(kefu.url, "text", "o_before").text == "success"
        wait_until(lambda: rig.sent_to("o_before"))
        rig.fault(SEND_PATH, errcode=-1)
        rig.fault(SEND_PATH, stall=6)
        started = time.monotonic()
        if outage == "stopped":
            server.kill()
        else:
            server.freeze()
        users = [f"o_{outage}{n}" for n in range(6)]
        acks = outage_pushes(rig, kefu, users)
        time.sleep(max(0.0, OUTAGE - (time.monotonic() - started)))
        if outage == "stopped":
            server.start()  # the same port, empty: what was queued in it is gone
        else:
            server.thaw()
        wait_until(lambda: all(rig.sent_to(user) for user in users), timeout=90)
        time.sleep(3)  # a duplicate would come within this
        assert [len(rig.sent_to(user)) for user in users] == [1] * len(users)
        assert max(acks) < 1.0, acks
        assert "replies wait on this host" in rig.log()
        assert "delivering replies in the request" not in rig.log()
        # Once per worker and outage, and only after a real round trip (not every 3.3 s).
        assert rig.log().count("reply queue store available again") <= 2
