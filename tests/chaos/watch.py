"""What the chaos soak sees of kefu from outside: deliveries, dead letters and samples over time."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import requests

from entrypoints.cli.gunicorn_process import ROOT
from entrypoints.sandbox.records import Call
from entrypoints.sandbox.state import SEND_PATH, SandboxState
from tests.chaos.traffic import Part
from tests.e2e.servers import resident_mib, workers_of

_PUSH = re.compile(r"msg:(\d+):")


class Calls:
    """Every call the sandbox recorded, with the monotonic time the soak first saw it."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self.seen: list[tuple[float, Call]] = []

    def poll(self) -> None:
        now = time.monotonic()
        calls = self.state.calls
        self.seen.extend((now, call) for call in calls[len(self.seen) :])

    def sends(self) -> list[tuple[float, Call]]:
        return [(at, call) for at, call in self.seen if call.path == SEND_PATH]


def part_of(body: Mapping[str, object], media: Mapping[str, str]) -> Part | None:
    """The part a send carried: its text, or the file behind its media id."""
    kind = body.get("msgtype")
    content = body.get(str(kind))
    if not isinstance(content, dict):
        return None
    if kind == "text":
        return ("text", str(content.get("content")))
    if kind == "image":
        return ("image", media.get(str(content.get("media_id")), "?"))
    return None


class DeadLetters:
    """`kefu dead-letters` as an operator runs it: each listed push's first sighting, and reason."""

    def __init__(self, settings: Callable[[], Mapping[str, str]]) -> None:
        self.settings = settings
        self.first_seen: dict[int, float] = {}
        self.uncertain: set[int] = set()

    def poll(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KEFU_")}
        listing = subprocess.run(
            [sys.executable, "-m", "entrypoints.cli.main", "dead-letters"],
            cwd=ROOT,
            env={**env, **self.settings()},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        now = time.monotonic()
        for line in listing.stdout.splitlines():
            found = _PUSH.search(line)
            if found:
                msg_id = int(found.group(1))
                self.first_seen.setdefault(msg_id, now)
                if "uncertain" in line:
                    self.uncertain.add(msg_id)


@dataclass(frozen=True)
class Sample:
    at: float
    acked: int
    outstanding: int
    queue_depth: float | None
    rss_mb: float
    log_lines: int


def queue_depth(metrics_url: str) -> float | None:
    """kefu_queue_depth from gunicorn's /metrics (None while it does not answer)."""
    try:
        text = requests.get(metrics_url, timeout=2).text
    except requests.RequestException:
        return None
    for line in text.splitlines():
        if line.startswith("kefu_queue_depth"):
            return float(line.split()[-1])
    return None


def rss_mb(master: int, others: list[int]) -> float:
    """Resident memory of gunicorn's master, its workers and the other pids, in MiB."""
    total = 0.0
    for pid in [master, *workers_of(master), *others]:
        with contextlib.suppress(OSError, LookupError):  # gone, or a zombie with no memory
            total += resident_mib(pid)
    return total


def log_lines(folder: Path) -> int:
    return sum(path.read_bytes().count(b"\n") for path in folder.glob("*.log") if path.is_file())
