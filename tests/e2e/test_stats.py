"""Hit statistics through the service (real gunicorn workers too), read back as editors do."""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import falcon.testing
import pytest
import requests

from adapters.wechat_push.fields import PushFormat
from entrypoints.cli.gunicorn_process import ROOT
from entrypoints.cli.push_simulator import Mode, PushSimulator, SignedPush
from entrypoints.preview.main import build_preview
from entrypoints.preview.settings import PreviewSettings
from entrypoints.sandbox.main import serve_sandbox
from entrypoints.service.container import Container
from tests.e2e.conftest import AES_KEY, APPID, APPSECRET, TOKEN
from tests.e2e.servers import gunicorn, kefu_settings
from tests.polling import wait_until

RULES = {
    "1": {"type": "text", "text": "一"},
    "re:下载|安装": {"type": "text", "text": "回复 1 获取下载链接"},
    "default": {"type": "text", "text": "再见"},
}
TYPED = ["1", "１", " 1 ", "怎么下载", "你好", "你好", "你好", "价格？", "价格?", "ＨＥＬＬＯ"]


def stats(settings: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "entrypoints.cli.main", "rules", "stats", *args]
    env = {"PATH": "/usr/bin:/bin", **settings}
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def wait_for_output(settings: dict[str, str], expected: str, timeout: float = 20.0) -> str:
    """`kefu rules stats --days 1` once it prints expected (counting runs behind the push)."""
    deadline = time.monotonic() + timeout
    while True:
        shown = stats(settings, "--days", "1").stdout
        if shown == expected or time.monotonic() > deadline:
            return shown
        time.sleep(0.2)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "media").mkdir()
    (tmp_path / "rules.json").write_text(json.dumps(RULES, ensure_ascii=False), "utf-8")
    return tmp_path


def push_all(url: str, pushes: list[SignedPush]) -> list[str]:
    def post(push: SignedPush) -> str:
        answer = requests.post(
            f"{url}/wechat/callback", params=push.params, data=push.body, timeout=15
        )
        return f"{answer.status_code} {answer.text}"

    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(post, pushes))


def test_counts_from_two_workers_add_up_exactly_and_unmatched_texts_come_in_order(folder):
    simulator = PushSimulator(TOKEN, APPID, AES_KEY)
    pushes = [
        simulator.build(simulator.text(text, f"o_{n}"), PushFormat.JSON, Mode.SAFE)
        for n, text in enumerate(TYPED)
    ]
    with serve_sandbox("127.0.0.1", 0, APPID, APPSECRET) as sandbox:
        settings = kefu_settings(folder, sandbox.url)
        with gunicorn(settings, folder / "kefu.log", workers=2) as kefu:
            # A retry of the first push (WeChat's) is not a second question.
            answers = push_all(kefu.url, [*pushes, pushes[0]])
            assert answers == ["200 success"] * (len(TYPED) + 1)
            today = datetime.date.today().isoformat()
            expected = (
                f"{today}\n"
                "rule          hits\n"
                "------------  ----\n"
                "default       6\n"
                "1             3\n"
                "re:下载|安装  1\n"
                "\n"
                "unmatched text  times\n"
                "--------------  -----\n"
                "你好            3\n"
                "价格?           2\n"
                "hello           1\n"
            )
            assert wait_for_output(settings, expected) == expected


def test_stats_off_counts_nothing(folder):
    simulator = PushSimulator(TOKEN, APPID, AES_KEY)
    with serve_sandbox("127.0.0.1", 0, APPID, APPSECRET) as sandbox:
        settings = kefu_settings(folder, sandbox.url, KEFU_STATS="off")
        with gunicorn(settings, folder / "kefu.log", workers=2) as kefu:
            pushes = [
                simulator.build(simulator.text(text, "o_1"), PushFormat.JSON, Mode.SAFE)
                for text in TYPED
            ]
            assert push_all(kefu.url, pushes) == ["200 success"] * len(TYPED)
            wait_until(lambda: len(sandbox.state.sent) == len(TYPED))
        off = stats(settings)
        assert (off.returncode, off.stdout) == (0, "KEFU_STATS is off: nothing is counted\n")
    assert not (folder / "state" / "stats").exists()
    on = stats({**settings, "KEFU_STATS": "on"}, "--days", "1")
    assert on.stdout == f"{datetime.date.today().isoformat()}: nothing counted\n"


def test_stats_refuses_a_number_of_days_it_does_not_keep(folder):
    settings = kefu_settings(folder, "http://127.0.0.1:9")
    refused = stats(settings, "--days", "8")
    assert refused.returncode == 2
    assert "expected 1 to 7 (days kept)" in refused.stderr


def test_one_users_fifty_pushes_do_not_top_what_users_asked(service, settings):
    def push(text: str, openid: str) -> None:
        fields = service.simulator.text(text, openid)
        answer = service.send(service.simulator.build(fields, PushFormat.JSON, Mode.SAFE))
        assert answer.text == "success"

    for _ in range(50):
        push("刷屏", "o_insistent")
    for openid in ("o_a", "o_b"):
        push("价格", openid)
    service_stats = Container(settings=settings).stats_store()
    wait_until(lambda: sum(n for _, n in service_stats.days(1)[0].hits) == 52)
    service_stats.close()
    preview = falcon.testing.TestClient(
        build_preview(PreviewSettings(settings, service_stats=True)),
        headers={"Host": "127.0.0.1:8700"},
    )
    (today,) = preview.simulate_get("/api/stats", params={"days": "1"}).json["days"]
    assert today["unmatched"] == [["价格", 2], ["刷屏", 1]]
    assert today["hits"] == [["default", 52]]
