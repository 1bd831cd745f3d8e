"""The reply queue in Redis: a whole instance killed mid-reply, and Redis itself gone."""

from __future__ import annotations

import os
import secrets
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

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


def test_with_the_queue_store_down_pushes_are_still_answered_and_replied(tmp_path):
    server = OwnRedis()
    server.start()
    with queue_rig(tmp_path, KEFU_REDIS_URL=server.url) as rig:
        rig.stack.callback(server.kill)
        kefu = rig.kefu(workers=1)
        assert rig.push(kefu.url, "text", "o_before").text == "success"
        wait_until(lambda: rig.sent_to("o_before"))
        server.kill()
        users = [f"o_down{n}" for n in range(3)]
        for user in users:
            assert rig.push(kefu.url, "text", user).text == "success"
            assert len(rig.sent_to(user)) == 1  # sent inside the request
        assert rig.log().count("reply queue unavailable, delivering replies in the request") == 1
