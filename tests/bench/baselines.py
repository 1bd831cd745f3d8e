"""The baseline servers the ack-path benchmarks compare kefu with, under kefu's own gunicorn
config (same worker class, workers, threads and access log), and what their processes cost."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from entrypoints.cli.gunicorn_process import ROOT, free_port
from entrypoints.cli.shipped import GUNICORN_CONF
from tests.e2e.servers import workers_of
from tests.polling import wait_until

BARE_FALCON = "tests.bench.bare_falcon:app"
WECHATPY_HANDLER = "tests.bench.wechatpy_handler:app"
WECHATPY_REPLYING = "tests.bench.wechatpy_replying:app"


@contextmanager
def baseline(
    app: str, folder: Path, settings: dict[str, str], workers: int = 2
) -> Iterator[tuple[str, int]]:
    """The app (module:name) under gunicorn: its URL and its master's pid."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KEFU_", "GUNICORN_"))}
    env = {**env, **settings, "PORT": str(port), "WEB_CONCURRENCY": str(workers)}
    env["KEFU_METRICS_ADDR"] = "off"  # kefu's own: the baselines have none
    name = app.split(":")[0].rsplit(".", 1)[-1]
    with (folder / f"{name}.log").open("ab") as log:
        # NOTE: in a session of its own, as KefuUnderGunicorn starts kefu. With the kernel's
        # sched_autogroup on, each session is one scheduling group that gets an equal share of
        # the CPUs: a baseline left in wrk's session outweighed wrk by its thread count, while
        # kefu, in its own, got half the machine. The same kefu measured 0.281 ms of CPU and
        # 6,769 pushes/s started here against 0.344 ms and 4,973/s in a session of its own.
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF), app],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _listening(url), timeout=30)
        yield url, server.pid
    finally:
        server.terminate()
        server.wait()


def _listening(url: str) -> bool:
    try:
        requests.get(f"{url}/", timeout=1)
    except requests.RequestException:
        return False
    return True


def cpu_seconds(master: int) -> float:
    """CPU time used so far by a gunicorn master and its live workers."""
    total = 0.0
    for pid in (master, *workers_of(master)):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total
