"""/metrics under real gunicorn with two workers and the sandbox: exact counts, summed."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from adapters.wechat_push.fields import PushFormat
from entrypoints.cli.gunicorn_process import KefuUnderGunicorn, free_port
from entrypoints.cli.push_simulator import Mode, PushSimulator, SignedPush
from entrypoints.cli.shipped import GUNICORN_CONF
from entrypoints.sandbox.main import serve_sandbox
from entrypoints.sandbox.records import Fault
from entrypoints.sandbox.state import SEND_PATH, SandboxState
from tests.documents import CONTRACT_DOCUMENT
from tests.e2e.conftest import AES_KEY, APPID, APPSECRET, TOKEN
from tests.e2e.servers import gunicorn, holds_open, kefu_settings, workers_of
from tests.images import png
from tests.polling import wait_until

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "config" / "grafana-dashboard.json"
RULES = {key: CONTRACT_DOCUMENT[key] for key in ("1", "3", "default")}


@dataclass
class Running:
    kefu: KefuUnderGunicorn
    sandbox: SandboxState
    simulator: PushSimulator

    def post(self, push: SignedPush) -> requests.Response:
        url = f"{self.kefu.url}/wechat/callback"
        # A new connection each time, so both workers get some of the pushes.
        with requests.Session() as session:
            return session.post(url, params=push.params, data=push.body, timeout=10)

    def text(self, content: str, openid: str, msg_id: int) -> SignedPush:
        fields = self.simulator.text(content, openid, msg_id=msg_id)
        return self.simulator.build(fields, PushFormat.JSON, Mode.SAFE)


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    (tmp_path / "media" / "cms").mkdir(parents=True)
    (tmp_path / "media" / "cms" / "poster02.png").write_bytes(png())
    (tmp_path / "rules.json").write_text(json.dumps(RULES, ensure_ascii=False), encoding="utf-8")
    state = SandboxState()
    with serve_sandbox("127.0.0.1", 0, APPID, APPSECRET, state) as sandbox:
        settings = kefu_settings(tmp_path, sandbox.url)
        with gunicorn(settings, tmp_path / "kefu.log", workers=2) as kefu:
            yield Running(kefu, state, PushSimulator(TOKEN, APPID, AES_KEY))


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(metrics_url: str) -> Samples:
    text = requests.get(metrics_url, timeout=10).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def sends(running: Running, kind: str, errcode: int) -> int:
    calls = [c for c in running.sandbox.calls if c.path == SEND_PATH and c.errcode == errcode]
    return len([c for c in calls if c.body.get("msgtype") == kind])


def play_conversation(running: Running) -> None:
    """Seven accepted pushes (one a retry already answered), one forged; WeChat answers one
    send with -1 (retried by the queue) and one with 40003 (a dead letter)."""
    link = running.text("1", "o_metrics_user_a", 1001)
    for push in (link, link):  # WeChat's retry of an answered push: a duplicate
        assert running.post(push).text == "success"
    forged = SignedPush({**link.params, "msg_signature": "0" * 40}, link.body, link.content_type)
    assert running.post(forged).status_code == 403
    wait_until(lambda: sends(running, "link", 0))  # sent before WeChat starts failing
    running.sandbox.add_fault(Fault(SEND_PATH, errcode=-1))
    assert running.post(running.text("anything", "o_metrics_user_b", 1002)).text == "success"
    wait_until(lambda: sends(running, "text", 0))  # -1, then the queue's retry went through
    running.sandbox.add_fault(Fault(SEND_PATH, errcode=40003))
    assert running.post(running.text("1", "o_metrics_user_e", 1006)).text == "success"
    wait_until(lambda: sends(running, "link", 40003))  # refused for good: a dead letter
    for msg_id in (1003, 1004):  # the same image twice: uploaded once, then from the cache
        assert running.post(running.text("3", "o_metrics_user_c", msg_id)).text == "success"
    assert running.post(running.text("1", "o_metrics_user_d", 1005)).text == "success"
    wait_until(lambda: sends(running, "image", 0) == 2 and sends(running, "link", 0) == 2)


def test_metrics_count_a_scripted_conversation_exactly_across_two_workers(running: Running):
    play_conversation(running)

    def settled() -> Samples | None:
        found = samples(running.kefu.metrics_url)
        replies = value(found, "kefu_replies_total", outcome="sent")
        return found if replies == 5 and value(found, "kefu_dead_letters") == 1 else None

    found = wait_until(settled, timeout=30)
    assert found is not None
    assert value(found, "kefu_pushes_total", outcome="accepted", reason="") == 7
    assert value(found, "kefu_pushes_total", outcome="refused", reason="signature") == 1
    assert value(found, "kefu_duplicate_pushes_total") == 1
    assert value(found, "kefu_push_ack_seconds_count") == 7
    assert value(found, "kefu_replies_total", outcome="retried") == 1
    assert value(found, "kefu_replies_total", outcome="dead_lettered") == 1
    assert value(found, "kefu_reply_sends_total", kind="link", errcode="0") == 2
    assert value(found, "kefu_reply_sends_total", kind="link", errcode="40003") == 1
    assert value(found, "kefu_reply_sends_total", kind="text", errcode="-1") == 1
    assert value(found, "kefu_reply_sends_total", kind="text", errcode="0") == 1
    assert value(found, "kefu_reply_sends_total", kind="image", errcode="0") == 2
    assert value(found, "kefu_reply_send_seconds_count", kind="image") == 2
    assert value(found, "kefu_media_uploads_total", outcome="ok") == 1
    assert value(found, "kefu_media_cache_hits_total") == 1
    assert value(found, "kefu_token_fetches_total", errcode="0") == 1
    assert value(found, "kefu_rules_keywords") == 3
    assert value(found, "kefu_rules_refreshes_total", outcome="ok") >= 1  # at each start
    assert value(found, "kefu_state_store_failures_total") == 0
    assert (value(found, "kefu_queue_depth"), value(found, "kefu_senders_running")) == (0, 8)


def test_metrics_carry_no_unbounded_label(running: Running):
    play_conversation(running)
    labels = {label for (_, pairs) in samples(running.kefu.metrics_url) for label, _ in pairs}
    assert labels <= {"outcome", "reason", "kind", "errcode", "le"}


def test_every_metric_the_grafana_dashboard_queries_is_on_metrics(running: Running):
    play_conversation(running)
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    queried = {
        name
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
        for name in re.findall(r"\bkefu_[a-z_]+", target["expr"])
    }
    assert len(queried) >= 10
    served = {name for (name, _) in samples(running.kefu.metrics_url)}
    assert sorted(queried - served) == []


def gunicorn_run(settings: dict[str, str], port: int) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KEFU_", "GUNICORN_"))}
    command = [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF), "entrypoints.wsgi:app"]
    return subprocess.run(
        command,
        cwd=ROOT,
        env={**env, **settings, "PORT": str(port), "WEB_CONCURRENCY": "1"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_metrics_on_the_callback_port_stop_start_up_with_one_line(tmp_path: Path):
    (tmp_path / "media").mkdir()
    (tmp_path / "rules.json").write_text(json.dumps(RULES), encoding="utf-8")
    port = free_port()
    settings = kefu_settings(tmp_path, "http://127.0.0.1:9", KEFU_METRICS_ADDR=f"127.0.0.1:{port}")
    result = gunicorn_run(settings, port)
    assert result.returncode == 2
    assert (
        f"kefu: KEFU_METRICS_ADDR=127.0.0.1:{port} is the callback's port: "
        "give metrics a port of their own"
    ) in result.stderr.splitlines()


def test_a_restarted_worker_keeps_its_counts_and_the_metrics_folder_goes_with_the_master(
    tmp_path: Path,
):
    (tmp_path / "media").mkdir()
    (tmp_path / "rules.json").write_text(json.dumps(RULES), encoding="utf-8")
    temp = tmp_path / "tmp"
    temp.mkdir()
    base = {**os.environ, "TMPDIR": str(temp)}
    with serve_sandbox("127.0.0.1", 0, APPID, APPSECRET) as sandbox:
        settings = kefu_settings(tmp_path, sandbox.url)
        kefu = KefuUnderGunicorn(settings, tmp_path / "kefu.log", base_env=base, workers=1)
        kefu.start()
        try:
            kefu.wait_until_healthy()
            (folder,) = temp.glob("kefu-metrics-*")
            running = Running(kefu, SandboxState(), PushSimulator(TOKEN, APPID, AES_KEY))
            assert running.post(running.text("1", "o_restart", 2001)).text == "success"
            assert kefu.pid is not None
            (worker,) = workers_of(kefu.pid)
            os.kill(worker, signal.SIGKILL)
            deadline = time.monotonic() + 20
            while [worker] == workers_of(kefu.pid) or not workers_of(kefu.pid):
                assert time.monotonic() < deadline, "gunicorn did not replace the worker"
                time.sleep(0.1)
            kefu.wait_until_healthy()
            assert running.post(running.text("1", "o_restart", 2002)).text == "success"
            found = samples(kefu.metrics_url)
            assert value(found, "kefu_pushes_total", outcome="accepted", reason="") == 2
        finally:
            kefu.stop()
    assert not folder.exists()


def listening_inode(port: int) -> str:
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port and fields[3] == "0A":  # LISTEN
            return fields[9]
    raise AssertionError(f"nothing listens on port {port}")


def holds_socket(pid: int, inode: str) -> bool:
    return holds_open(pid, f"socket:[{inode}]")


def test_only_the_master_holds_the_metrics_port_so_a_restart_can_bind_it(tmp_path: Path):
    (tmp_path / "media").mkdir()
    (tmp_path / "rules.json").write_text(json.dumps(RULES), encoding="utf-8")
    with gunicorn(kefu_settings(tmp_path, "http://127.0.0.1:9"), tmp_path / "kefu.log") as kefu:
        assert kefu.pid is not None
        port = int(kefu.metrics_url.rsplit(":", 1)[1].split("/")[0])
        inode = listening_inode(port)
        deadline = time.monotonic() + 20
        while len(workers_of(kefu.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)  # healthy once one worker answers; the other may still be booting
        workers = workers_of(kefu.pid)
        assert holds_socket(kefu.pid, inode)
        assert len(workers) == 2
        assert [pid for pid in workers if holds_socket(pid, inode)] == []


def test_kefu_worker_serves_its_own_metrics_on_its_metrics_address(tmp_path: Path):
    (tmp_path / "media").mkdir()
    (tmp_path / "rules.json").write_text(json.dumps(RULES), encoding="utf-8")
    settings = kefu_settings(tmp_path, "http://127.0.0.1:9", KEFU_SENDERS="2")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KEFU_", "PROMETHEUS_"))}
    worker = subprocess.Popen(
        [sys.executable, "-m", "entrypoints.cli.main", "worker"],
        cwd=ROOT,
        env={**env, **settings},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://{settings['KEFU_METRICS_ADDR']}/metrics"

    def senders_running() -> bool:
        try:
            return value(samples(url), "kefu_senders_running") == 2
        except requests.ConnectionError:
            return False

    try:
        wait_until(senders_running, timeout=30)
        assert value(samples(url), "kefu_queue_depth") == 0
    finally:
        worker.send_signal(signal.SIGTERM)
        _, err = worker.communicate(timeout=60)
    assert worker.returncode == 0, err
