"""Replies go through the durable queue under real gunicorn: acknowledged at once, sent once."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from adapters.queue.journal import JournalEntry, LeaseJournal
from adapters.queue.stores import sqlite_stores
from entrypoints.sandbox.state import SEND_PATH
from tests.e2e.queue_rig import (
    TYPING_PATH,
    UPLOAD_PATH,
    kill_workers,
    queue_rig,
    wait_for_new_workers,
)
from tests.e2e.servers import kefu_command
from tests.journal_entries import journal_entries
from tests.polling import wait_until


@pytest.fixture
def rig(tmp_path: Path):
    with queue_rig(tmp_path) as rig:
        yield rig


@pytest.mark.parametrize(
    "faults",
    [[{"errcode": -1}], [{"errcode": -1, "times": 2}], [{"status": 502}], [{"errcode": 45009}]],
    ids=["-1", "-1 -1", "HTTP 502", "45009"],
)
def test_transient_errors_before_success_give_exactly_one_accepted_send(rig, faults):
    kefu = rig.kefu()
    for fault in faults:
        rig.fault(SEND_PATH, **fault)
    assert rig.push(kefu.url, "text").text == "success"
    wait_until(rig.sent_to)
    wait_until(lambda: "retry in" in rig.log())  # the failed attempts were retried, not dropped
    assert [body["text"] for body in rig.sent_to()] == [{"content": "文字回复"}]
    assert rig.attempts() == 1 + sum(int(f.get("times", 1)) for f in faults)


def kefu_cli(rig, *args: str) -> subprocess.CompletedProcess[str]:
    return kefu_command(rig.settings(), *args)


def dead_letter_rows(rig) -> str:
    """`kefu dead-letters` output once it lists something, else the empty string."""
    listed = kefu_cli(rig, "dead-letters").stdout
    return "" if listed == "no dead letters\n" else listed


@pytest.mark.parametrize("errcode", [45015, 45047, 40003])
def test_a_permanent_refusal_is_tried_once_then_listed_as_a_dead_letter(rig, errcode):
    kefu = rig.kefu()
    rig.fault(SEND_PATH, errcode=errcode)
    assert rig.push(kefu.url, "text").text == "success"
    listed: str = wait_until(lambda: dead_letter_rows(rig))
    assert rig.attempts() == 1 and rig.sent_to() == []
    assert f"errcode {errcode}" in listed and "text" in listed and "o_qu…ue" in listed
    assert "o_queue" not in listed  # openids are shortened
    retried = kefu_cli(rig, "dead-letters", "retry", "--all")
    assert retried.returncode == 0 and "queued again" in retried.stdout
    wait_until(rig.sent_to)
    assert [body["text"] for body in rig.sent_to()] == [{"content": "文字回复"}]
    assert kefu_cli(rig, "dead-letters").stdout == "no dead letters\n"


def test_dropping_a_dead_letter_deletes_it(rig):
    kefu = rig.kefu()
    rig.fault(SEND_PATH, errcode=45015)
    rig.push(kefu.url, "text")
    wait_until(lambda: "45015" in kefu_cli(rig, "dead-letters").stdout)
    dropped = kefu_cli(rig, "dead-letters", "drop", "--all")
    assert dropped.returncode == 0 and "dropped" in dropped.stdout
    assert kefu_cli(rig, "dead-letters").stdout == "no dead letters\n"


def test_pushes_are_answered_at_once_while_wechat_stalls_and_the_reply_comes_once(rig):
    kefu = rig.kefu()
    for path in (SEND_PATH, UPLOAD_PATH, TYPING_PATH):
        rig.fault(path, stall=10, times=5)
    for text, user in (("image", "o_img"), ("text", "o_txt")):
        started = time.monotonic()
        answer = rig.push(kefu.url, text, user)
        assert answer.text == "success" and time.monotonic() - started < 1.0
    wait_until(lambda: rig.sent_to("o_img") and rig.sent_to("o_txt"), timeout=60)
    assert len(rig.sent_to("o_img")) == 1 and len(rig.sent_to("o_txt")) == 1


def test_an_image_then_a_text_for_one_user_arrive_in_that_order(rig):
    kefu = rig.kefu()
    rig.fault(UPLOAD_PATH, stall=1.0)  # the image takes a while; the text must wait for it
    rig.push(kefu.url, "image")
    time.sleep(0.1)  # the user's second message, 100 ms later (timing under test, not sync)
    rig.push(kefu.url, "text")
    wait_until(lambda: len(rig.sent_to()) == 2)
    assert [body["msgtype"] for body in rig.sent_to()] == ["image", "text"]


def test_killing_every_gunicorn_worker_mid_upload_still_sends_the_reply_once(rig):
    kefu = rig.kefu()
    rig.fault(UPLOAD_PATH, stall=20)
    assert rig.push(kefu.url, "image").text == "success"
    wait_until(rig.fault_taken)  # the upload is in flight
    killed = kill_workers(kefu.pid)
    wait_for_new_workers(kefu.pid, killed, 2)
    wait_until(rig.sent_to, timeout=45)
    assert [body["msgtype"] for body in rig.sent_to()] == ["image"]


def test_killing_kefu_worker_mid_upload_still_sends_the_reply_once(rig):
    kefu = rig.kefu(KEFU_SENDERS="0")
    first = rig.worker("worker1")
    rig.fault(UPLOAD_PATH, stall=20)
    assert rig.push(kefu.url, "image").text == "success"
    wait_until(rig.fault_taken)
    first.kill()
    first.wait()
    rig.worker("worker2")
    wait_until(rig.sent_to, timeout=45)
    assert [body["msgtype"] for body in rig.sent_to()] == ["image"]


def test_sigterm_of_kefu_worker_with_sends_in_flight_then_a_new_worker_gives_each_push_one_reply(
    rig,
):
    kefu = rig.kefu(KEFU_SENDERS="0")
    first = rig.worker("worker1")  # four senders (KEFU_SENDERS' default)
    rig.fault(SEND_PATH, stall=3, times=100)
    users = [f"o_wterm{n}" for n in range(8)]
    for user in users:
        assert rig.push(kefu.url, "text", user).text == "success"
    wait_until(lambda: rig.state.faults[0].times == 96)  # every sender is mid-send
    first.send_signal(signal.SIGTERM)
    assert first.wait(timeout=30) == 0
    # The running sends finished before the worker exited; no sender took another job.
    assert sorted(len(rig.sent_to(user)) for user in users) == [0] * 4 + [1] * 4
    rig.state.clear_faults()
    rig.worker("worker2")
    wait_until(lambda: all(rig.sent_to(user) for user in users), timeout=60)
    wait_until(lambda: not unfinished_jobs(rig))  # nothing left that could be sent again
    assert [len(rig.sent_to(user)) for user in users] == [1] * len(users)


def unfinished_jobs(rig) -> dict[str, JournalEntry]:
    state_dir = Path(rig.settings()["KEFU_STATE_DIR"])
    return journal_entries(LeaseJournal(sqlite_stores(state_dir).journal))


def test_sigterm_with_sends_in_flight_then_a_new_instance_gives_each_push_one_reply(rig):
    first = rig.kefu("first")
    rig.fault(SEND_PATH, stall=2, times=3)
    users = [f"o_term{n}" for n in range(8)]
    for user in users:
        assert rig.push(first.url, "text", user).text == "success"
    wait_until(lambda: len(rig.state.faults) == 0 or rig.state.faults[0].times < 3)
    first.stop()  # SIGTERM: running sends finish, the rest stays queued
    second = rig.kefu("second")
    wait_until(lambda: all(rig.sent_to(user) for user in users), timeout=60)
    assert second.url
    assert sorted(len(rig.sent_to(user)) for user in users) == [1] * len(users)
