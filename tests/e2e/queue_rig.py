"""A sandbox, rules and kefu processes for the reply-queue tests, and ways to kill them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests

from adapters.wechat_push.fields import PushFormat
from entrypoints.cli.gunicorn_process import ROOT, KefuUnderGunicorn
from entrypoints.cli.push_simulator import Mode, PushSimulator
from entrypoints.sandbox.main import SandboxServer, serve_sandbox
from entrypoints.sandbox.records import Fault
from entrypoints.sandbox.state import SEND_PATH, SandboxState
from tests.e2e.conftest import AES_KEY, APPID, APPSECRET, TOKEN
from tests.e2e.servers import holds_open, kefu_settings, workers_of
from tests.images import png
from tests.polling import wait_until

UPLOAD_PATH = "/cgi-bin/media/upload"
TYPING_PATH = "/cgi-bin/message/custom/typing"
RULES = {
    "text": {"type": "text", "text": "文字回复"},
    "image": {"type": "image", "url": "/cms/poster02.png"},
    "default": {"type": "text", "text": "再见"},
}


@dataclass
class QueueRig:
    folder: Path
    sandbox: SandboxServer
    stack: ExitStack
    appid: str = APPID
    extra: dict[str, str] = field(default_factory=dict)
    pushes: int = 0

    @property
    def simulator(self) -> PushSimulator:
        return PushSimulator(TOKEN, self.appid, AES_KEY)

    @property
    def state(self) -> SandboxState:
        return self.sandbox.state

    def settings(self, **extra: str) -> dict[str, str]:
        settings = {"KEFU_APPID": self.appid, **self.extra, **extra}
        return kefu_settings(self.folder, self.sandbox.url, **settings)

    def kefu(self, name: str = "kefu", workers: int = 2, **extra: str) -> KefuUnderGunicorn:
        kefu = KefuUnderGunicorn(
            self.settings(**extra), self.folder / f"{name}.log", workers=workers
        )
        self.stack.callback(kefu.stop)
        kefu.start()
        kefu.wait_until_healthy()
        return kefu

    def worker(self, name: str = "worker", **extra: str) -> subprocess.Popen[bytes]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KEFU_")}
        log = (self.folder / f"{name}.log").open("ab")
        self.stack.callback(log.close)
        process = subprocess.Popen(
            [sys.executable, "-m", "entrypoints.cli.main", "worker"],
            cwd=ROOT,
            env={**env, **self.settings(**extra)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.stack.callback(_kill, process)
        return process

    def push(self, url: str, text: str, user: str = "o_queue") -> requests.Response:
        self.pushes += 1
        fields = self.simulator.text(text, user, msg_id=self.pushes)
        push = self.simulator.build(fields, PushFormat.JSON, Mode.SAFE)
        return requests.post(
            f"{url}/wechat/callback", params=push.params, data=push.body, timeout=15
        )

    def fault(self, path: str, **fields: object) -> None:
        self.state.add_fault(Fault.from_json({"path": path, **fields}))

    def sent_to(self, user: str = "o_queue") -> list[Mapping[str, object]]:
        return [body for body in self.state.sent if body.get("touser") == user]

    def attempts(self, path: str = SEND_PATH) -> int:
        return len([call for call in self.state.calls if call.path == path])

    def fault_taken(self) -> bool:
        return not self.state.faults

    def log(self, name: str = "kefu") -> str:
        return (self.folder / f"{name}.log").read_text(encoding="utf-8", errors="replace")


@contextmanager
def queue_rig(folder: Path, appid: str = APPID, **extra: str) -> Iterator[QueueRig]:
    (folder / "media" / "cms").mkdir(parents=True)
    (folder / "media" / "cms" / "poster02.png").write_bytes(png())
    (folder / "rules.json").write_text(json.dumps(RULES, ensure_ascii=False), encoding="utf-8")
    with ExitStack() as stack:
        sandbox = stack.enter_context(serve_sandbox("127.0.0.1", 0, appid, APPSECRET))
        yield QueueRig(folder, sandbox, stack, appid, dict(extra))


def kill_workers(master: int) -> list[int]:
    killed = workers_of(master)
    for pid in killed:
        os.kill(pid, signal.SIGKILL)
    return killed


def _kill(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
    process.wait()


def wait_for_new_workers(master: int, old: list[int], count: int) -> None:
    wait_until(lambda: len(set(workers_of(master)) - set(old)) >= count, timeout=30)


def wait_until_every_worker_holds(master: int, count: int, path: Path) -> None:
    """Until `count` workers each have `path` open: /healthz answers as soon as one worker is
    up, and a worker still starting would open only whatever file the path names later."""

    def holding() -> int:
        return sum(1 for pid in workers_of(master) if holds_open(pid, str(path)))

    wait_until(lambda: holding() >= count, timeout=30)
