"""`kefu demo` as a user runs it: a subprocess that prints the chat and leaves nothing behind."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

from entrypoints.cli.gunicorn_process import ROOT
from entrypoints.demo.conversation import SCRIPT

WELCOME = "kefu  › 您好！回复 1 下载 APP，回复 2 查看活动海报，回复 3 查看二维码"
# Settings a user may have exported for their real kefu; the demo must not pick any of them up.
STRAY_SETTINGS = {
    "KEFU_TOKEN": "users-own-token",
    "KEFU_REDIS_URL": "redis://127.0.0.1:9/0",
    "KEFU_RULES_URL": "http://127.0.0.1:9/cms",
    "PORT": "9",
}


def start_demo() -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "entrypoints.cli.main", "demo"],
        cwd=ROOT,
        env={**os.environ, **STRAY_SETTINGS, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )


def gunicorn_pid(transcript: str) -> int:
    found = re.search(r"\(gunicorn, pid (\d+)\)", transcript)
    assert found, transcript
    return int(found.group(1))


def ports(transcript: str) -> set[int]:
    return {int(port) for port in re.findall(r"http://127\.0\.0\.1:(\d+)", transcript)}


def processes_in_group(pgid: int) -> list[int]:
    """Live processes whose process group is pgid (gunicorn's master and its workers)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # the process ended while we looked
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def assert_nothing_left(transcript: str) -> None:
    assert processes_in_group(gunicorn_pid(transcript)) == []
    assert len(ports(transcript)) == 4  # sandbox, image host, kefu, its metrics
    assert [port for port in ports(transcript) if listening(port)] == []


def test_the_demo_prints_the_whole_conversation_and_leaves_nothing_behind():
    demo = start_demo()
    out, err = demo.communicate(timeout=60)

    assert demo.returncode == 0, out + err
    assert WELCOME in out
    assert "kefu  › [link card] 点击下载APP" in out
    assert "注册领取红包" in out and "https://example.com/app.html" in out
    assert re.search(r"\[image\] poster\.jpg, [\d,]+ bytes, image/jpeg, media id \S+", out)
    assert re.search(r"\[image\] poster02\.png, [\d,]+ bytes, image/png, media id \S+", out)
    assert "kefu  › 再见" in out.split(f"user  › {SCRIPT[-1].said}", 1)[1]  # the default reply
    assert "5 of 5 pushes answered 200" in out
    assert_nothing_left(out)


def test_ctrl_c_during_the_chat_exits_0_and_leaves_nothing_behind():
    demo = start_demo()
    assert demo.stdout is not None
    seen = []
    for line in demo.stdout:
        seen.append(line)
        if line.startswith("user  › 1"):
            break
    demo.send_signal(signal.SIGINT)
    rest, err = demo.communicate(timeout=30)
    out = "".join(seen) + rest

    assert demo.returncode == 0, out + err
    assert "interrupted: shutting everything down" in out
    assert "Traceback" not in err
    assert_nothing_left(out)
