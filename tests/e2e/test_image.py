"""The OCI image: built from the Containerfile on a Debian base, run with a read-only root, and a
genuine push through it to the sandbox, answered by `kefu serve` and sent by `kefu worker`."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from entrypoints.cli.gunicorn_process import ROOT, free_port
from entrypoints.sandbox.main import serve_sandbox
from tests.e2e.conftest import AES_KEY, APPID, APPSECRET, TOKEN
from tests.polling import wait_until

pytestmark = pytest.mark.podman
CACHE = Path.home() / ".cache" / "kefu-test"
# Debian's own packages stand in for the public Python image, which no registry here serves.
BASE = "localhost/kefu-test-base:bookworm-python3"
BASE_TAR = CACHE / "bookworm-python3.tar"
MMDEBSTRAP = ("mmdebstrap", "--variant=minbase", "--format=tar", "--include=python3,python3-venv")
# One tag per checkout: sessions building other checkouts on this machine keep theirs.
IMAGE = f"localhost/kefu-test:{hashlib.sha256(str(ROOT).encode()).hexdigest()[:12]}"
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
REPLY = "图片里的活动今天截止"


@dataclass(frozen=True)
class Podman:
    """podman as this machine can run it: runc where installed (crun refuses hybrid cgroups),
    and resource limits no higher than this process's, which a container may not raise."""

    command: tuple[str, ...]
    limits: tuple[str, ...]

    @classmethod
    def here(cls) -> Podman:
        if shutil.which("podman") is None:
            pytest.fail("the image test needs podman: apt-get install podman runc", pytrace=False)
        runtime = ("--runtime", "runc") if shutil.which("runc") else ()
        files = min(resource.getrlimit(resource.RLIMIT_NOFILE)[0], 65536)
        processes = min(resource.getrlimit(resource.RLIMIT_NPROC)[0], 16384)
        limits = (
            "--ulimit",
            f"nofile={files}:{files}",
            "--ulimit",
            f"nproc={processes}:{processes}",
        )
        return cls(("podman", *runtime), limits)

    def __call__(
        self, *args: str, timeout: float = 120, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [*self.command, *args], capture_output=True, text=True, timeout=timeout
        )
        if check and done.returncode != 0:
            pytest.fail(f"podman {args[0]} failed: {last_line(done.stderr)}", pytrace=False)
        return done

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self("run", *self.limits, *args)


def last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"


def debian_base(podman: Podman) -> None:
    """The base image, imported once from an mmdebstrap tarball kept in CACHE."""
    if podman("image", "exists", BASE, check=False).returncode == 0:
        return
    if not BASE_TAR.is_file():
        if shutil.which("mmdebstrap") is None:
            pytest.fail(
                "the image test needs mmdebstrap: apt-get install mmdebstrap", pytrace=False
            )
        CACHE.mkdir(parents=True, exist_ok=True)
        partial = CACHE / "partial" / BASE_TAR.name
        partial.parent.mkdir(exist_ok=True)
        made = subprocess.run(
            [*MMDEBSTRAP, "bookworm", str(partial)], capture_output=True, text=True, timeout=900
        )
        if made.returncode != 0:
            pytest.fail(f"mmdebstrap failed: {last_line(made.stderr)}", pytrace=False)
        partial.rename(BASE_TAR)
    podman("import", str(BASE_TAR), BASE, timeout=300)


@pytest.fixture(scope="module")
def podman() -> Podman:
    podman = Podman.here()
    debian_base(podman)
    tried = podman("run", *podman.limits, "--rm", BASE, "true", check=False)
    if tried.returncode != 0:
        pytest.fail(f"podman cannot run containers here: {last_line(tried.stderr)}", pytrace=False)
    return podman


@pytest.fixture(scope="module")
def image(podman: Podman) -> str:
    secret = ("--secret", f"id=ca-certificates,src={CA_BUNDLE}") if CA_BUNDLE.is_file() else ()
    built = podman(
        "build",
        "--format=docker",  # the OCI format has no HEALTHCHECK
        "--network=host",
        *podman.limits,
        *secret,
        "--build-arg",
        f"BASE={BASE}",
        "--tag",
        IMAGE,
        "--file",
        str(ROOT / "Containerfile"),
        str(ROOT),
        timeout=900,
        check=False,
    )
    if built.returncode != 0:
        pytest.fail(f"the image did not build:\n{built.stdout[-3000:]}{built.stderr[-3000:]}")
    return IMAGE


@contextlib.contextmanager
def containers(podman: Podman) -> Iterator[list[str]]:
    """Names for containers; each is removed afterwards, with the test's volume."""
    names: list[str] = []
    try:
        yield names
    finally:
        for name in names:  # their logs, shown when the test fails
            logs = podman("logs", name, check=False)
            print(f"--- {name}\n{logs.stdout}{logs.stderr}")
            podman("rm", "--force", "--volumes", name, check=False)


def settings_file(folder: Path, sandbox: str, **extra: str) -> Path:
    settings = {
        "KEFU_TOKEN": TOKEN,
        "KEFU_ENCODING_AES_KEY": AES_KEY,
        "KEFU_APPID": APPID,
        "KEFU_APPSECRET": APPSECRET,
        "KEFU_RULES_FILE": "/etc/kefu/rules.json",
        "KEFU_WECHAT_API_BASE": sandbox,
        **extra,
    }
    path = folder / f"kefu-{len(list(folder.glob('kefu-*.env')))}.env"
    path.write_text("".join(f"{k}={v}\n" for k, v in settings.items()), encoding="utf-8")
    return path


def kefu_simulate(text: str, url: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("KEFU_")}
    env = {**clean, "KEFU_TOKEN": TOKEN, "KEFU_ENCODING_AES_KEY": AES_KEY, "KEFU_APPID": APPID}
    command = [sys.executable, "-m", "entrypoints.cli.main", "simulate", text, "--url", url]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)


def started(podman: Podman, names: list[str], name: str, args: Sequence[str]) -> None:
    names.append(name)
    podman.run("--detach", "--name", name, *args)


def test_the_image_takes_a_push_read_only_and_its_worker_sends_the_reply(podman, image, tmp_path):
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"活动": {"type": "text", "text": REPLY}}), encoding="utf-8")
    tag = uuid.uuid4().hex[:8]
    volume = f"kefu-test-state-{tag}"
    port = free_port()
    # Host networking reaches the sandbox on 127.0.0.1; each process gets ports of its own.
    common = [
        "--read-only",
        "--network=host",
        "--volume",
        f"{volume}:/var/lib/kefu",
        "--volume",
        f"{rules}:/etc/kefu/rules.json:ro",
    ]
    with serve_sandbox("127.0.0.1", 0, APPID, APPSECRET) as api, containers(podman) as names:
        web = settings_file(
            tmp_path,
            api.url,
            PORT=str(port),
            WEB_CONCURRENCY="1",
            KEFU_SENDERS="0",  # sending is the worker's job
            KEFU_METRICS_ADDR=f"127.0.0.1:{free_port()}",
        )
        sender = settings_file(tmp_path, api.url, KEFU_METRICS_ADDR=f"127.0.0.1:{free_port()}")
        started(podman, names, f"kefu-test-web-{tag}", [*common, "--env-file", str(web), image])
        started(
            podman,
            names,
            f"kefu-test-worker-{tag}",
            [*common, "--env-file", str(sender), image, "worker"],
        )
        url = f"http://127.0.0.1:{port}"

        def healthy() -> bool:
            with contextlib.suppress(requests.RequestException):
                return requests.get(f"{url}/healthz", timeout=1).status_code == 200
            return False

        wait_until(healthy, timeout=60)
        pushed = kefu_simulate("活动", f"{url}/wechat/callback")
        assert pushed.returncode == 0, pushed.stdout + pushed.stderr
        assert "200" in pushed.stdout and "success" in pushed.stdout
        sent = wait_until(lambda: api.state.sent, timeout=30)
        print(f"\n$ kefu simulate 活动 --url {url}/wechat/callback\n{pushed.stdout}")
        print(f"sandbox received: {json.dumps(sent, ensure_ascii=False)}")
        assert sent[0]["text"] == {"content": REPLY}

        web_name = names[0]
        assert podman("healthcheck", "run", web_name, check=False).returncode == 0
        who = podman("exec", web_name, "id", "-u").stdout.strip()
        assert who != "0"
        written = podman("exec", web_name, "touch", "/opt/kefu/x", check=False)
        assert "Read-only file system" in written.stderr
        state = podman("exec", web_name, "ls", "/var/lib/kefu").stdout.split()
        assert state, "the state folder (the volume) holds kefu's state"
        size = podman("image", "inspect", image, "--format", "{{.Size}}").stdout.strip()
        print(f"image {image}: {int(size) / 1e6:.0f} MB")
    podman("volume", "rm", "--force", volume, check=False)
