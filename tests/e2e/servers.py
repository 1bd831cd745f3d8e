"""kefu under real gunicorn for end-to-end tests, with the settings the tests share."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from entrypoints.cli.gunicorn_process import ROOT, KefuUnderGunicorn, free_port
from tests.e2e.conftest import AES_KEY, APPID, APPSECRET, TOKEN


@contextmanager
def gunicorn(
    settings: Mapping[str, str], log: Path, workers: int = 2
) -> Iterator[KefuUnderGunicorn]:
    """kefu with config/gunicorn.conf.py on a free port, healthy, stopped afterwards."""
    kefu = KefuUnderGunicorn(settings, log, workers=workers)
    kefu.start()
    try:
        kefu.wait_until_healthy()
        yield kefu
    finally:
        kefu.stop()


def kefu_settings(folder: Path, wechat_url: str, **extra: str) -> dict[str, str]:
    """Settings for a service with rules.json and media/ in folder, talking to wechat_url."""
    return {
        "KEFU_TOKEN": TOKEN,
        "KEFU_ENCODING_AES_KEY": AES_KEY,
        "KEFU_APPID": APPID,
        "KEFU_APPSECRET": APPSECRET,
        "KEFU_RULES_FILE": str(folder / "rules.json"),
        "KEFU_MEDIA_ROOT": str(folder / "media"),
        "KEFU_WECHAT_API_BASE": wechat_url,
        "KEFU_STATE_DIR": str(folder / "state"),
        "KEFU_METRICS_ADDR": f"127.0.0.1:{free_port()}",
        **extra,
    }


def workers_of(master: int) -> list[int]:
    """The live child processes of master (gunicorn's workers), from /proc."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master and fields[0] != "Z":
            children.append(int(stat.parent.name))
    return children


def healthy(url: str, verify: bool | str = True) -> bool:
    """Whether kefu (or a proxy before it) at url answers /healthz with 200 (verify: as
    requests takes it)."""
    with contextlib.suppress(requests.RequestException):
        return requests.get(f"{url}/healthz", timeout=1, verify=verify).status_code == 200
    return False


def holds_open(pid: int, target: str) -> bool:
    """Whether process pid has a descriptor open on target (a path, or `socket:[inode]`)."""
    try:
        descriptors = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:  # the process exited
        return False
    for fd in descriptors:
        try:
            if os.readlink(fd) == target:
                return True
        except OSError:  # closed while we looked
            continue
    return False


def resident_mib(pid: int, part: str = "VmRSS") -> float:
    """pid's resident memory in MiB: all of it, or `part` of it as /proc/<pid>/status names it
    (RssAnon: the heap and stacks, without the file pages such as SQLite's mmap)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{part}:"):
            return int(line.split()[1]) / 1024
    raise LookupError(f"no {part} for process {pid}")


def kefu_command(settings: Mapping[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`kefu ARGS…` run to its end with settings as its only KEFU_ variables."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("KEFU_")}
    return subprocess.run(
        [sys.executable, "-m", "entrypoints.cli.main", *args],
        cwd=ROOT,
        env={**base, **settings},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def stop_group(process: subprocess.Popen[Any], signum: int, timeout: float = 20.0) -> None:
    """Signal process's whole session (it was started in a new one), wait for it, and kill
    whatever of the group is left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signum)
    try:
        process.wait(timeout=timeout)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
