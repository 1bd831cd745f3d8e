"""Two gunicorn services sharing state (one folder, then one Redis) reply once per push."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
import requests

from adapters.wechat_push.fields import PushFormat
from entrypoints.cli.gunicorn_process import free_port
from entrypoints.cli.push_simulator import Mode, PushSimulator, SignedPush
from entrypoints.sandbox.main import serve_sandbox
from entrypoints.sandbox.state import SandboxState
from tests.e2e.conftest import AES_KEY, APPID, APPSECRET, TOKEN
from tests.e2e.servers import gunicorn, kefu_settings
from tests.images import png
from tests.polling import wait_until

RULES = {
    "two": [{"type": "text", "text": "第一条"}, {"type": "text", "text": "第二条"}],
    "3": {"type": "image", "url": "/cms/poster02.png"},
    "default": {"type": "text", "text": "再见"},
}


@dataclass
class Cluster:
    urls: list[str]
    sandbox: SandboxState
    simulator: PushSimulator

    def post(self, url: str, push: SignedPush) -> str:
        answer = requests.post(
            f"{url}/wechat/callback", params=push.params, data=push.body, timeout=15
        )
        return f"{answer.status_code} {answer.text}"

    def count(self, path: str) -> int:
        return len([c for c in self.sandbox.calls if c.path == path and c.errcode == 0])


def redis_env(url: str, client: redis.Redis) -> dict[str, str]:
    """Settings for a clean kefu state in the test Redis (a token left by an earlier run would
    be refused by this run's sandbox and muddle the counts)."""
    # The state and the reply queue of this test's AppID only (a job left over would reach this
    # sandbox); other mini programs' keys, other test runs' included, are not touched.
    stale = list(client.scan_iter(f"kefu:{APPID}:*"))
    if stale:
        client.delete(*stale)
    return {"KEFU_REDIS_URL": url}


@pytest.fixture(params=["state folder", "redis"])
def cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cluster]:
    (tmp_path / "media" / "cms").mkdir(parents=True)
    (tmp_path / "media" / "cms" / "poster02.png").write_bytes(png())
    (tmp_path / "rules.json").write_text(json.dumps(RULES, ensure_ascii=False), encoding="utf-8")
    shared = {}
    if request.param == "redis":
        shared = redis_env(
            request.getfixturevalue("redis_url"), request.getfixturevalue("redis_client")
        )
    state = SandboxState()
    with ExitStack() as stack:
        sandbox = stack.enter_context(serve_sandbox("127.0.0.1", 0, APPID, APPSECRET, state))
        settings = kefu_settings(tmp_path, sandbox.url, **shared)
        # Two instances on one host: each serves its metrics on a port of its own.
        services = [
            gunicorn({**settings, "KEFU_METRICS_ADDR": f"127.0.0.1:{free_port()}"}, log)
            for log in (tmp_path / "kefu0.log", tmp_path / "kefu1.log")
        ]
        urls = [stack.enter_context(service).url for service in services]
        yield Cluster(urls, state, PushSimulator(TOKEN, APPID, AES_KEY))


def test_one_push_sent_to_both_services_concurrently_and_repeatedly_replies_once(cluster):
    push = cluster.simulator.build(cluster.simulator.text("two", "o_a"), PushFormat.JSON, Mode.SAFE)
    targets = cluster.urls * 3
    with ThreadPoolExecutor(max_workers=len(targets)) as pool:
        answers = list(pool.map(lambda url: cluster.post(url, push), targets))
    for url in cluster.urls * 3:
        answers.append(cluster.post(url, push))
    assert answers == ["200 success"] * 12
    wait_until(lambda: len(cluster.sandbox.sent) >= 2)
    assert [body["text"] for body in cluster.sandbox.sent] == [
        {"content": "第一条"},
        {"content": "第二条"},
    ]


def test_twenty_users_asking_for_one_image_cause_one_upload_and_one_token(cluster):
    pushes = [
        cluster.simulator.build(cluster.simulator.text("3", f"o_{n}"), PushFormat.XML, Mode.SAFE)
        for n in range(20)
    ]
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda n: cluster.post(cluster.urls[n % 2], pushes[n]), range(20)))
    assert answers == ["200 success"] * 20
    wait_until(lambda: len(cluster.sandbox.sent) >= 20)
    assert cluster.count("/cgi-bin/media/upload") == 1
    assert len(cluster.sandbox.sent) == 20
    assert cluster.count("/cgi-bin/stable_token") == 1
