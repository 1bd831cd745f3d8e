"""/readyz and `kefu status` on the real container: each failing check, and why, and what to do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import falcon.testing
import pytest
from dependency_injector import providers

from adapters.wechat_push.fields import PushFormat
from entrypoints.cli.gunicorn_process import ROOT, free_port
from entrypoints.cli.push_simulator import Mode, PushSimulator
from entrypoints.sandbox.main import SandboxServer, serve_sandbox
from entrypoints.sandbox.records import Fault
from entrypoints.service.bootstrap import (
    app_for,
    build_container,
    build_service,
    load_settings,
    start,
)
from tests.documents import CONTRACT_DOCUMENT
from tests.e2e.conftest import AES_KEY, APPID, APPSECRET, TOKEN
from tests.e2e.servers import gunicorn, kefu_settings
from tests.redis_server import OwnRedis

RULES = {key: CONTRACT_DOCUMENT[key] for key in ("1", "default")}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "media").mkdir()
    (tmp_path / "rules.json").write_text(json.dumps(RULES), encoding="utf-8")
    return tmp_path


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with serve_sandbox("127.0.0.1", 0, APPID, APPSECRET) as served:
        yield served


Readyz = Callable[..., tuple[int, dict[str, Any]]]


@contextmanager
def serving(env: dict[str, str]) -> Iterator[Readyz]:
    service = build_service(env)
    client = falcon.testing.TestClient(service.app)

    def readyz(**request: Any) -> tuple[int, dict[str, Any]]:
        answer = client.simulate_get("/readyz", **request)
        return answer.status_code, answer.json

    try:
        yield readyz
    finally:
        service.stop()


def status(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("KEFU_")}
    return subprocess.run(
        [sys.executable, "-m", "entrypoints.cli.main", "status", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_ready_when_rules_store_and_token_are_all_fine_and_kefu_status_agrees(folder, sandbox):
    env = kefu_settings(folder, sandbox.url)
    with serving(env) as readyz:
        code, report = readyz()
        assert code == 200 and report["ready"] is True
        assert list(report["checks"]) == [
            "rules",
            "state_store",
            "reply_queue",
            "queue_file",
            "senders",
            "access_token",
        ]
        assert report["checks"]["reply_queue"]["detail"] == "0 reply job(s) unfinished"
        assert report["checks"]["senders"]["detail"] == "4 of 4 sender thread(s) running"
        assert report["checks"]["rules"]["detail"].startswith("version ")
        assert "2 keys, 0 rejected, fetched 0 s ago" in report["checks"]["rules"]["detail"]
        assert report["checks"]["access_token"] == {
            "ok": True,
            "detail": "an access token is at hand",
            "action": "",
        }
    shown = status(env)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert shown.stdout.splitlines()[0] == "kefu is ready"
    assert "  ok    access token  an access token is at hand" in shown.stdout


@pytest.mark.parametrize(
    "request_from",
    [
        {"remote_addr": "10.1.2.3"},
        {"remote_addr": "203.0.113.9", "headers": {"X-Forwarded-For": "127.0.0.1"}},
        {"headers": {"X-Forwarded-For": "203.0.113.9"}},  # through nginx on this host
        {"headers": {"X-Forwarded-For": "127.0.0.1, 203.0.113.9"}},  # a forged first entry
    ],
)
def test_readyz_names_its_parts_only_to_callers_on_this_host(folder, sandbox, request_from):
    env = kefu_settings(folder, sandbox.url)
    with serving(env) as readyz:
        assert readyz(**request_from) == (200, {"ready": True})
        assert "checks" in readyz(headers={"X-Forwarded-For": "127.0.0.1"})[1]
        assert "checks" in readyz(remote_addr="::1")[1]
    with serving({**env, "KEFU_RULES_FILE": str(folder / "missing.json")}) as readyz:
        assert readyz(**request_from) == (503, {"ready": False})  # the code is the probe's


def test_readiness_says_when_the_previous_credentials_are_refused(folder, sandbox):
    env = {**kefu_settings(folder, sandbox.url), "KEFU_TOKEN_PREVIOUS": "oldToken2025"}
    with serving({**env, "KEFU_ROTATION_UNTIL": "2020-01-01T00:00:00Z"}) as readyz:
        code, report = readyz()
    assert code == 200  # the current credentials work: pushes are still taken
    assert report["checks"]["previous_credentials"]["detail"] == (
        "KEFU_TOKEN_PREVIOUS refused since 2020-01-01T00:00:00+00:00 (KEFU_ROTATION_UNTIL): "
        "remove them"
    )
    with serving({**env, "KEFU_ROTATION_UNTIL": "2999-01-01T00:00:00Z"}) as readyz:
        detail = readyz()[1]["checks"]["previous_credentials"]["detail"]
    assert "refused" not in detail


@pytest.mark.parametrize(
    ("host", "why"),
    [
        ("nonexistent.invalid:8000", "the name nonexistent.invalid does not resolve"),
        ("127.0.0.1:{port}", "connection refused: nothing listens on 127.0.0.1:{port}"),
    ],
    ids=["name does not resolve", "connection refused"],
)
def test_kefu_status_url_says_in_one_line_why_it_got_no_report(host, why):
    port = free_port()
    url = f"http://{host.format(port=port)}"
    shown = status({}, "--url", url)
    assert (shown.returncode, shown.stdout) == (1, "")
    said = f"kefu status: no readiness report from {url}: {why.format(port=port)}\n"
    assert shown.stderr == said


def test_not_ready_while_the_rules_never_loaded(folder, sandbox):
    cms = f"http://127.0.0.1:{free_port()}/cms/rules"
    env = kefu_settings(folder, sandbox.url, KEFU_RULES_URL=cms)
    del env["KEFU_RULES_FILE"]
    with serving(env) as readyz:
        code, report = readyz()
        assert (code, report["ready"]) == (503, False)
        rules = report["checks"]["rules"]
        assert rules["ok"] is False
        failed = "the latest refresh failed: request failed (ConnectionError)"
        assert rules["detail"] == f"no rules loaded from {cms}; {failed}"
        assert "kefu rules check" in rules["action"]
        assert report["checks"]["access_token"]["ok"] is True
    shown = status(env)
    assert shown.returncode == 1
    assert shown.stdout.splitlines()[0] == "kefu is NOT ready"
    assert f"  FAIL  rules         no rules loaded from {cms}" in shown.stdout


def test_not_ready_while_redis_is_unreachable_and_ready_again_once_it_is_back(folder, sandbox):
    redis = OwnRedis()
    redis.start()
    try:
        env = kefu_settings(folder, sandbox.url, KEFU_REDIS_URL=redis.url)
        with serving(env) as readyz:
            assert readyz()[0] == 200
            redis.kill()
            # Probe writes run every few seconds at most: /readyz notices within one interval.
            assert poll(lambda: readyz()[0] == 503, within=10)
            code, report = readyz()
            assert code == 503
            store = report["checks"]["state_store"]
            assert store["ok"] is False
            assert store["detail"].startswith(f"Redis at 127.0.0.1:{redis.port}: ")
            assert store["action"].startswith(f"make Redis at 127.0.0.1:{redis.port} reachable")
            shown = status(env)
            assert shown.returncode == 1
            assert f"  FAIL  state store   Redis at 127.0.0.1:{redis.port}: " in shown.stdout
            redis.start()
            assert poll(lambda: readyz()[0] == 200, within=10)
    finally:
        redis.kill()


def test_not_ready_when_wechat_refuses_the_token_for_this_ip_and_it_says_what_to_do(
    folder, sandbox
):
    sandbox.state.add_fault(Fault("/cgi-bin/stable_token", times=20, errcode=40164))
    env = kefu_settings(folder, sandbox.url)
    with serving(env) as readyz:
        code, report = readyz()
        assert code == 503
        token = report["checks"]["access_token"]
        assert token["ok"] is False
        assert token["detail"].startswith("WeChat API errcode 40164: invalid ip, not in whitelist")
        assert token["action"].startswith("add this host's public IP address to the mini program's")
        assert report["checks"]["rules"]["ok"] and report["checks"]["state_store"]["ok"]
    shown = status(env)
    assert shown.returncode == 1
    assert "  FAIL  access token  WeChat API errcode 40164" in shown.stdout
    assert "what to do: add this host's public IP address" in shown.stdout
    for secret in (APPSECRET, env["KEFU_TOKEN"], env["KEFU_ENCODING_AES_KEY"]):
        assert secret not in shown.stdout + shown.stderr + json.dumps(report)


def test_kefu_status_url_reads_a_running_kefus_readyz_under_gunicorn(folder, sandbox):
    with gunicorn(kefu_settings(folder, sandbox.url), folder / "kefu.log") as kefu:
        shown = status({}, "--url", kefu.url)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert shown.stdout.splitlines()[0] == "kefu is ready"
    checked = [line.split()[1] for line in shown.stdout.splitlines() if line.startswith("  ok ")]
    assert checked == ["rules", "state", "reply", "queue", "senders", "access"]


def poll(condition: Callable[[], bool], within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def test_not_ready_while_the_oldest_reply_waits_too_long(folder, sandbox):
    env = kefu_settings(folder, sandbox.url, KEFU_SENDERS="0")  # nothing sends in this process
    container = build_container(load_settings(env))
    container.queue_age_limit.override(providers.Object(1.0))
    start(container)
    client = falcon.testing.TestClient(app_for(container))
    try:
        simulator = PushSimulator(TOKEN, APPID, AES_KEY)
        push = simulator.build(simulator.text("1", "o_waiting"), PushFormat.JSON, Mode.SAFE)
        answer = client.simulate_post("/wechat/callback", params=push.params, body=push.body)
        assert answer.text == "success"
        assert client.simulate_get("/readyz").status_code == 200  # just queued
        time.sleep(1.5)  # NOTE: the age itself is what is tested; nothing to poll for
        answer = client.simulate_get("/readyz")
        queue = answer.json["checks"]["reply_queue"]
        assert (answer.status_code, queue["ok"]) == (503, False)
        assert queue["detail"] == "1 reply job(s) unfinished, the oldest for 1 s (more than 1 s)"
        assert queue["action"].startswith("replies are not going out: check that senders run")
        senders = answer.json["checks"]["senders"]
        assert senders["detail"] == "KEFU_SENDERS=0: kefu worker processes send the replies"
    finally:
        container.shutdown_resources()
