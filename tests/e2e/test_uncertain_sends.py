"""A send cut off by a killed or stopped sender is never sent twice: WeChat either took it (one
reply) or did not (listed as uncertain, sent again only on an operator's word)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from entrypoints.sandbox.state import SEND_PATH
from tests.e2e.queue_rig import kill_workers, queue_rig, wait_for_new_workers
from tests.e2e.servers import kefu_command
from tests.polling import wait_until


@pytest.fixture
def rig(tmp_path: Path):
    with queue_rig(tmp_path) as rig:
        yield rig


def kefu_cli(rig, *args: str) -> subprocess.CompletedProcess[str]:
    return kefu_command(rig.settings(), *args)


def listed_uncertain(rig) -> bool:
    return "uncertain" in kefu_cli(rig, "dead-letters").stdout


def test_sigkill_mid_send_that_wechat_answers_late_gives_one_reply_and_an_uncertain_listing(rig):
    kefu = rig.kefu()
    rig.fault(SEND_PATH, stall=4)  # WeChat takes the send, but answers after the kill
    assert rig.push(kefu.url, "text").text == "success"
    wait_until(rig.fault_taken)  # the send is on the wire
    killed = kill_workers(kefu.pid)
    wait_for_new_workers(kefu.pid, killed, 2)
    wait_until(lambda: listed_uncertain(rig), timeout=45)
    assert [body["text"] for body in rig.sent_to()] == [{"content": "文字回复"}]
    assert "in flight when its sender stopped" in rig.log()


def test_sigkill_of_kefu_worker_mid_send_that_wechat_refused_is_listed_then_retried_once(rig):
    kefu = rig.kefu(KEFU_SENDERS="0")
    first = rig.worker("worker1")
    rig.fault(SEND_PATH, stall=4, errcode=-1)  # WeChat did not deliver it
    assert rig.push(kefu.url, "text").text == "success"
    wait_until(rig.fault_taken)
    first.kill()
    first.wait()
    rig.worker("worker2")
    wait_until(lambda: listed_uncertain(rig), timeout=45)
    assert rig.sent_to() == []  # never re-sent on its own
    retried = kefu_cli(rig, "dead-letters", "retry", "--all")
    assert retried.returncode == 0 and "queued again" in retried.stdout
    wait_until(rig.sent_to, timeout=30)
    assert [body["text"] for body in rig.sent_to()] == [{"content": "文字回复"}]
    assert kefu_cli(rig, "dead-letters").stdout == "no dead letters\n"


def test_sigterm_past_the_graceful_timeout_mid_send_gives_one_reply(rig):
    first = rig.kefu("first", GUNICORN_GRACEFUL_TIMEOUT="1")
    rig.fault(SEND_PATH, stall=5)
    assert rig.push(first.url, "text").text == "success"
    wait_until(rig.fault_taken)
    first.stop()  # SIGTERM; the send outlives the 1 s grace, so the worker dies mid-send
    rig.kefu("second")
    wait_until(lambda: listed_uncertain(rig), timeout=45)
    assert [body["text"] for body in rig.sent_to()] == [{"content": "文字回复"}]
