"""`kefu simulate` against real kefu under gunicorn, the WeChat sandbox recording the replies."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from entrypoints.cli.gunicorn_process import ROOT, KefuUnderGunicorn, free_port
from entrypoints.demo.transcript import fetch_calls
from entrypoints.sandbox.main import SandboxServer, serve_sandbox
from entrypoints.sandbox.state import SEND_PATH
from tests.canned_http import canned
from tests.e2e.conftest import AES_KEY, APPID, APPSECRET, TOKEN
from tests.image_host import tls_for
from tests.polling import wait_until

WELCOME = "您好！回复 1 下载 APP，回复 2 查看活动海报，回复 3 查看二维码"
CREDENTIALS = {"KEFU_TOKEN": TOKEN, "KEFU_APPID": APPID, "KEFU_ENCODING_AES_KEY": AES_KEY}
PLAIN_CREDENTIALS = {"KEFU_TOKEN": TOKEN, "KEFU_APPID": APPID}


@dataclass
class Services:
    sandbox: SandboxServer
    encrypted: str  # callback URL of a kefu with the AES key: takes compatible and safe pushes
    plain: str  # callback URL of a kefu without a key: takes plaintext pushes

    def sent_to(self, openid: str) -> list[Mapping[str, Any]]:
        """What reached the user, once anything has (replies are sent after the answer)."""

        def sent() -> list[Mapping[str, Any]]:
            return [
                c["body"]
                for c in fetch_calls(self.sandbox.url)
                if c["path"] == SEND_PATH and c["errcode"] == 0 and c["body"]["touser"] == openid
            ]

        return wait_until(sent)


def start_kefu(sandbox: SandboxServer, folder: Path, aes_key: str | None) -> KefuUnderGunicorn:
    folder.mkdir()
    settings = {
        **PLAIN_CREDENTIALS,
        "KEFU_APPSECRET": APPSECRET,
        "KEFU_RULES_FILE": str(ROOT / "config" / "rules.example.json"),
        "KEFU_MEDIA_ROOT": str(ROOT / "config"),
        "KEFU_WECHAT_API_BASE": sandbox.url,
        "KEFU_STATE_DIR": str(folder / "state"),
    }
    if aes_key:
        settings["KEFU_ENCODING_AES_KEY"] = aes_key
    kefu = KefuUnderGunicorn(settings, folder / "log")
    kefu.start()
    return kefu


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    folder = tmp_path_factory.mktemp("simulate")
    with serve_sandbox("127.0.0.1", 0, APPID, APPSECRET) as sandbox:
        encrypted = start_kefu(sandbox, folder / "encrypted", AES_KEY)
        plain = start_kefu(sandbox, folder / "plain", None)
        try:
            encrypted.wait_until_healthy()
            plain.wait_until_healthy()
            yield Services(
                sandbox, f"{encrypted.url}/wechat/callback", f"{plain.url}/wechat/callback"
            )
        finally:
            encrypted.stop()
            plain.stop()


def kefu_simulate(
    *args: str, env: Mapping[str, str] = CREDENTIALS
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("KEFU_")}
    return subprocess.run(
        [sys.executable, "-m", "entrypoints.cli.main", "simulate", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize("mode", ["plaintext", "compatible", "safe"])
def test_every_mode_and_format_round_trips_to_a_reply(services: Services, mode: str, fmt: str):
    openid = f"o_simulate_{mode}_{fmt}"
    url = services.plain if mode == "plaintext" else services.encrypted
    env = PLAIN_CREDENTIALS if mode == "plaintext" else CREDENTIALS
    done = kefu_simulate(
        "1", "--url", url, "--mode", mode, "--format", fmt, "--openid", openid, env=env
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("200 OK") and done.stdout.rstrip().endswith("success")
    [sent] = services.sent_to(openid)
    assert sent["msgtype"] == "link" and sent["link"]["title"] == "点击下载APP"
    for secret in (TOKEN, AES_KEY):
        assert secret not in done.stdout + done.stderr


def test_the_mode_is_safe_when_a_key_is_set(services: Services):
    done = kefu_simulate("1", "--url", services.encrypted, "--openid", "o_simulate_default_safe")

    assert done.returncode == 0, done.stdout  # a plaintext push would have got 403
    assert services.sent_to("o_simulate_default_safe")


def test_the_mode_is_plaintext_without_a_key(services: Services):
    openid = "o_simulate_default_plain"
    done = kefu_simulate(
        "hello", "--url", services.plain, "--openid", openid, env=PLAIN_CREDENTIALS
    )

    assert done.returncode == 0, done.stdout
    assert services.sent_to(openid) == [
        {"touser": openid, "msgtype": "text", "text": {"content": "再见"}}
    ]


def test_entering_the_chat_gets_the_welcome_text(services: Services):
    done = kefu_simulate("--event", "enter", "--url", services.encrypted, "--openid", "o_enters")

    assert done.returncode == 0, done.stdout
    assert [s["text"]["content"] for s in services.sent_to("o_enters")] == [WELCOME]


def test_an_image_message_gets_the_default_reply(services: Services):
    done = kefu_simulate(
        "--image", "--format", "xml", "--url", services.encrypted, "--openid", "o_img"
    )

    assert done.returncode == 0, done.stdout
    assert [s["text"]["content"] for s in services.sent_to("o_img")] == ["再见"]


def test_repeat_prints_an_answer_for_every_post(services: Services):
    done = kefu_simulate("1", "--repeat", "3", "--url", services.encrypted, "--openid", "o_again")

    lines = done.stdout.splitlines()
    assert done.returncode == 0
    assert len(lines) == 3 and all(line.startswith("200 OK") for line in lines)


def test_a_refused_push_prints_the_answer_and_exits_1(services: Services):
    done = kefu_simulate("1", "--mode", "plaintext", "--url", services.encrypted)

    assert done.returncode == 1
    assert done.stdout.startswith("403 Forbidden")


def test_a_missing_setting_is_named_in_one_line_with_exit_2():
    done = kefu_simulate(
        "1", "--url", "http://127.0.0.1:9/wechat/callback", env={"KEFU_APPID": APPID}
    )

    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "kefu simulate: KEFU_TOKEN is missing: "
        "set it to the Token from the mini program's 消息推送 page"
    ]
    assert done.stdout == ""


def test_every_bad_setting_gets_its_line_and_a_bad_key_is_not_shown():
    bad_key = "x" * 42 + "!"
    done = kefu_simulate(
        "1", "--url", "http://127.0.0.1:9/", env={"KEFU_ENCODING_AES_KEY": bad_key}
    )

    assert done.returncode == 2
    assert [line.split(":")[1].split()[0] for line in done.stderr.splitlines()] == [
        "KEFU_TOKEN",
        "KEFU_APPID",
        "KEFU_ENCODING_AES_KEY",
    ]
    assert bad_key not in done.stderr


def test_an_encrypted_mode_without_a_key_is_exit_2():
    done = kefu_simulate(
        "1", "--mode", "safe", "--url", "http://127.0.0.1:9/", env=PLAIN_CREDENTIALS
    )

    assert done.returncode == 2
    assert "KEFU_ENCODING_AES_KEY is missing" in done.stderr


def test_an_unreachable_url_is_reported_with_exit_1():
    port = free_port()
    done = kefu_simulate("1", "--url", f"http://127.0.0.1:{port}/wechat/callback")

    assert done.returncode == 1
    assert done.stdout == f"no answer: connection refused: nothing listens on 127.0.0.1:{port}\n"


class _Recorder(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, body))
        self.send_response(200)
        self.send_header("Content-Length", "7")
        self.end_headers()
        self.wfile.write(b"success")

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_repeat_replays_the_identical_query_and_body_as_wechat_retries_do():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/wechat/callback"
        done = kefu_simulate("1", "--repeat", "3", "--url", url)
    finally:
        server.shutdown()
        server.server_close()

    assert done.returncode == 0
    assert len(_Recorder.received) == 3 and len(set(_Recorder.received)) == 1
    path, body = _Recorder.received[0]
    assert "msg_signature=" in path and b'"Encrypt"' in body


@pytest.fixture
def staging(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An https server on 127.0.0.1 whose certificate no public CA signed; its URL and cert."""
    tls, cert = tls_for("127.0.0.1", tmp_path)
    with canned(b"success", "text/plain", tls=tls) as url:
        yield f"{url}/wechat/callback", cert


def test_cacert_verifies_a_staging_servers_own_certificate(staging):
    url, cert = staging
    done = kefu_simulate("1", "--url", url, "--cacert", str(cert))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("200 OK ") and done.stdout.endswith("  success\n")


def test_without_cacert_a_staging_servers_certificate_is_not_trusted(staging):
    url, _ = staging
    done = kefu_simulate("1", "--url", url)
    port = url.split(":")[2].split("/")[0]
    assert done.returncode == 1
    assert done.stdout.startswith(f"no answer: TLS with 127.0.0.1:{port} failed: certificate")


def test_a_missing_cacert_file_is_one_line(tmp_path: Path):
    done = kefu_simulate("1", "--url", "https://127.0.0.1:1/", "--cacert", str(tmp_path / "no"))
    assert done.returncode == 2
    assert done.stderr == f"kefu simulate: --cacert {tmp_path / 'no'}: no such file\n"
