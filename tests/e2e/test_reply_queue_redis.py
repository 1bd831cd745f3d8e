"""The reply queue in Redis: a whole instance killed mid-reply, and Redis itself gone."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from entrypoints.cli.gunicorn_process import free_port
from tests.e2e.queue_rig import UPLOAD_PATH, QueueRig, queue_rig
from tests.polling import wait_until
from tests.redis_server import REDIS_URL


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
def rig(tmp_path: Path, shared_redis: str) -> Iterator[QueueRig]:
    with queue_rig(tmp_path, appid=shared_redis, KEFU_REDIS_URL=REDIS_URL) as rig:
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


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A Redis of this test's own, on a free port, that the test may stop."""
    port = free_port()
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url, socket_timeout=1)
    wait_until(lambda: _pings(client))
    yield url, server
    if server.poll() is None:
        server.kill()
    server.wait()


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


def test_with_the_queue_store_down_pushes_are_still_answered_and_replied(tmp_path, own_redis):
    url, server = own_redis
    with queue_rig(tmp_path, KEFU_REDIS_URL=url) as rig:
        kefu = rig.kefu(workers=1)
        assert rig.push(kefu.url, "text", "o_before").text == "success"
        wait_until(lambda: rig.sent_to("o_before"))
        server.kill()
        server.wait()
        users = [f"o_down{n}" for n in range(3)]
        for user in users:
            assert rig.push(kefu.url, "text", user).text == "success"
            assert len(rig.sent_to(user)) == 1  # sent inside the request
        assert rig.log().count("reply queue unavailable, delivering replies in the request") == 1
