"""Every command shows stored and received text escaped: WeChat's errmsg in a dead letter or a
readiness check cannot clear the screen, retitle the terminal or forge a row."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from adapters.queue.dead_letters import DeadLetter
from domain.jobs import ReplyJob
from domain.replies import TextReply
from entrypoints.service.container import Container
from entrypoints.service.settings import Settings
from tests.canned_http import canned
from tests.e2e.servers import kefu_command, kefu_settings

ERRMSG = "\x1b[2J\x1b]0;owned\x07\rdone\nd-2  o_ev…il  forged row\u200f"
ESCAPED = "\\x1b[2J\\x1b]0;owned\\x07\\rdone\\nd-2  o_ev…il  forged row\\u200f"
RAW = ("\x1b", "\x07", "\r", "\nd-2", "\u200f")


def wechat_saying(errmsg: str) -> AbstractContextManager[str]:
    """A stand-in for WeChat's API that refuses every call with errcode 40013 and errmsg."""
    return canned(json.dumps({"errcode": 40013, "errmsg": errmsg}).encode())


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    (tmp_path / "media").mkdir()
    (tmp_path / "rules.json").write_text('{"default": {"type": "text", "text": "好"}}', "utf-8")
    with wechat_saying(ERRMSG) as wechat:
        yield kefu_settings(tmp_path, wechat)


def plant_dead_letter(env: dict[str, str], job_id: str, errmsg: str) -> None:
    container = Container(settings=Settings.from_env(env))
    try:
        job = ReplyJob("o_user_1:1", "o_user_1", (TextReply("好"),))
        letter = DeadLetter(job_id, job, 1, f"WeChat API errcode 45015: {errmsg}", 1.0e9)
        container.reply_queue().dead_letters.add(letter)
    finally:
        container.shutdown_resources()


def test_a_dead_letters_stored_errmsg_is_listed_escaped_on_one_row(env):
    plant_dead_letter(env, "d-1", ERRMSG)
    listed = kefu_command(env, "dead-letters")
    assert listed.returncode == 0, listed.stderr
    assert not any(raw in listed.stdout for raw in RAW)
    header, _, row = listed.stdout.splitlines()
    assert header.startswith("id ")
    assert row.startswith("d-1 ") and row.endswith(f"WeChat API errcode 45015: {ESCAPED}")


def test_a_dead_letters_id_is_escaped_when_acted_on(env):
    plant_dead_letter(env, "d-\x1b[31m", "gone")
    dropped = kefu_command(env, "dead-letters", "drop", "--all")
    assert dropped.stdout == "d-\\x1b[31m  dropped\n"


def test_kefu_status_shows_wechats_errmsg_escaped(env):
    shown = kefu_command(env, "status")
    assert shown.returncode == 1
    assert not any(raw in shown.stdout for raw in RAW)
    (token,) = [line for line in shown.stdout.splitlines() if "access token" in line]
    assert f"WeChat API errcode 40013: {ESCAPED}" in token


def test_kefu_status_url_shows_a_remote_report_escaped(env):
    report = {"ready": False, "checks": {"rules\x1b[2J": {"ok": False, "detail": ERRMSG}}}
    with canned(json.dumps(report).encode(), status=503) as url:
        shown = kefu_command(env, "status", "--url", url)
    assert shown.returncode == 1
    assert not any(raw in shown.stdout for raw in RAW)
    assert shown.stdout.splitlines()[1] == f"  FAIL  rules\\x1b[2J  {ESCAPED}"
