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
from tests.certificates import write_self_signed
from tests.e2e.conftest import AES_KEY, APPID, APPSECRET, TOKEN
from tests.e2e.servers import healthy
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
    files: int
    processes: int

    @classmethod
    def here(cls) -> Podman:
        if shutil.which("podman") is None:
            pytest.fail("the image test needs podman: apt-get install podman runc", pytrace=False)
        runtime = ("--runtime", "runc") if shutil.which("runc") else ()
        files = min(resource.getrlimit(resource.RLIMIT_NOFILE)[0], 65536)
        processes = min(resource.getrlimit(resource.RLIMIT_NPROC)[0], 16384)
        return cls(("podman", *runtime), files, processes)

    @property
    def limits(self) -> tuple[str, ...]:
        return (
            "--ulimit",
            f"nofile={self.files}:{self.files}",
            "--ulimit",
            f"nproc={self.processes}:{self.processes}",
        )

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


def kefu_simulate(text: str, url: str, *options: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("KEFU_")}
    env = {**clean, "KEFU_TOKEN": TOKEN, "KEFU_ENCODING_AES_KEY": AES_KEY, "KEFU_APPID": APPID}
    command = [
        sys.executable,
        "-m",
        "entrypoints.cli.main",
        "simulate",
        text,
        "--url",
        url,
        *options,
    ]
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

        wait_until(lambda: healthy(url), timeout=60)
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


# Debian's packages stand in for the official redis and nginx images, which no registry here
# serves, and behave as they do where the compose file relies on it: redis-server without
# protected mode (the official image builds it so, or kefu could not connect from its
# container), working in /data; nginx in the foreground, reading conf.d/*.conf only.
STAND_INS = {
    "redis": """\
ARG BASE
FROM ${BASE}
RUN apt-get update && apt-get install --yes --no-install-recommends redis-server \\
    && rm -rf /var/lib/apt/lists/* \\
    && printf '#!/bin/sh\\nexec /usr/bin/redis-server "$@" --protected-mode no\\n' \\
        > /usr/local/bin/redis-server && chmod +x /usr/local/bin/redis-server
WORKDIR /data
CMD ["redis-server"]
""",
    "nginx": """\
ARG BASE
FROM ${BASE}
RUN apt-get update && apt-get install --yes --no-install-recommends nginx \\
    && rm -rf /var/lib/apt/lists/* /etc/nginx/sites-enabled/default \\
    && ln -sf /dev/stdout /var/log/nginx/access.log && ln -sf /dev/stderr /var/log/nginx/error.log
CMD ["nginx", "-g", "daemon off;"]
""",
}


def stand_in(podman: Podman, name: str, folder: Path) -> str:
    tag = f"localhost/kefu-test-{name}:bookworm"
    if podman("image", "exists", tag, check=False).returncode != 0:
        recipe = folder / f"{name}.Containerfile"
        recipe.write_text(STAND_INS[name], encoding="utf-8")
        podman(
            "build", "--network=host", *podman.limits, "--build-arg", f"BASE={BASE}",
            "--tag", tag, "--file", str(recipe), str(folder), timeout=600,
        )  # fmt: skip
    return tag


def compose_tool() -> list[str]:
    """podman-compose, which the dev dependencies install beside this Python."""
    here = Path(sys.executable).with_name("podman-compose")
    found = str(here) if here.is_file() else shutil.which("podman-compose")
    if found is None:
        pytest.fail(
            "the compose test needs podman-compose: pip install podman-compose", pytrace=False
        )
    return [found]


def override(podman: Podman, image: str, redis: str, nginx: str, ports: dict[str, int]) -> str:
    """compose.override.yaml as an operator on this machine would write it: the images at
    hand, resource limits no higher than this process's, and the ports bound on loopback,
    plus the sandbox in WeChat's place."""
    return f"""\
x-here: &here
  ulimits: {{nofile: {podman.files}, nproc: {podman.processes}}}
services:
  kefu:
    <<: *here
    image: {image}
    volumes: ["./rules.json:/etc/kefu/rules.json:ro"]
    ports: !override ["127.0.0.1:{ports["http"]}:80", "127.0.0.1:{ports["https"]}:443"]
  worker:
    <<: *here
    image: {image}
    volumes: ["./rules.json:/etc/kefu/rules.json:ro"]
  redis: {{<<: *here, image: "{redis}"}}
  nginx: {{<<: *here, image: "{nginx}"}}
  sandbox:
    <<: *here
    image: {image}
    command: [sandbox, --host, 0.0.0.0, --port, "9100"]
    env_file: ../kefu.env
    volumes: ["sandbox-state:/var/lib/kefu"]
    ports: ["127.0.0.1:{ports["sandbox"]}:9100"]
volumes:
  sandbox-state:
"""


READYZ = (
    "import urllib.request as u; print(u.urlopen('http://127.0.0.1:8000/readyz').read().decode())"
)


def deployment(folder: Path) -> Path:
    """A folder laid out as compose.yaml's header says: config/ as shipped, kefu.env, certs/."""
    (folder / "config").mkdir(parents=True)
    for name in ("compose.yaml", "nginx.conf"):
        shutil.copy(ROOT / "config" / name, folder / "config" / name)
    rules = {"活动": {"type": "text", "text": REPLY}}
    (folder / "config" / "rules.json").write_text(json.dumps(rules), encoding="utf-8")
    env = settings_file(folder, "http://sandbox:9100")
    env.rename(folder / "kefu.env")
    (folder / "certs").mkdir()
    # The only server block, so nginx serves it to a client that asks for 127.0.0.1.
    certs = folder / "certs"
    write_self_signed(
        certs / "kefu.example.com.pem", certs / "kefu.example.com.key", "kefu.example.com",
        ip="127.0.0.1",
    )  # fmt: skip
    return folder


def test_the_compose_example_runs_kefu_its_worker_redis_and_nginx_as_written(
    podman, image, tmp_path
):
    ports = {"http": free_port(), "https": free_port(), "sandbox": free_port()}
    folder = deployment(tmp_path / "deploy")
    redis, nginx = (stand_in(podman, name, tmp_path) for name in ("redis", "nginx"))
    (folder / "config" / "compose.override.yaml").write_text(
        override(podman, image, redis, nginx, ports), encoding="utf-8"
    )
    project = f"kefu-test-{uuid.uuid4().hex[:8]}"
    compose = [
        *compose_tool(),
        *(["--podman-args", " ".join(podman.command[1:])] if podman.command[1:] else []),
        "--podman-run-args=--pull=never",  # a missing image fails at once, never a registry wait
        "--project-name",
        project,
        "--file",
        "config/compose.yaml",
        "--file",
        "config/compose.override.yaml",
    ]

    def run(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*compose, *args], cwd=folder, capture_output=True, text=True, timeout=timeout
        )

    cert = str(folder / "certs" / "kefu.example.com.pem")
    url = f"https://127.0.0.1:{ports['https']}"
    try:
        up = run("up", "--detach", "--no-build")
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]

        wait_until(lambda: healthy(url, verify=cert), timeout=60)
        pushed = kefu_simulate("活动", f"{url}/wechat/callback", "--cacert", cert)
        assert pushed.returncode == 0, pushed.stdout + pushed.stderr
        assert "200" in pushed.stdout and "success" in pushed.stdout
        calls = f"http://127.0.0.1:{ports['sandbox']}/sandbox/calls"

        def sent() -> list[dict[str, object]]:
            answered = requests.get(calls, timeout=2).json()
            return [c["body"] for c in answered if c["path"] == "/cgi-bin/message/custom/send"]

        texts = wait_until(sent, timeout=30)
        print(
            f"\n$ kefu simulate 活动 --url {url}/wechat/callback --cacert {cert}\n{pushed.stdout}"
        )
        print(f"sandbox received: {json.dumps(texts, ensure_ascii=False)}")
        assert texts[0]["text"] == {"content": REPLY}
        # kefu serve only queues (KEFU_SENDERS=0): the reply went through Redis to the worker.
        # /readyz names its parts only to a client on kefu's own host (nginx tells it less).
        asked = podman("exec", f"{project}_kefu_1", "python3", "-c", READYZ).stdout
        ready = json.loads(asked)["checks"]
        assert ready["state_store"]["detail"].startswith("Redis at redis:6379")
        assert ready["senders"]["detail"].startswith("KEFU_SENDERS=0")
    finally:
        logs = run("logs")
        print(f"--- compose logs\n{logs.stdout[-6000:]}{logs.stderr[-2000:]}")
        down = run("down", "--volumes")
        assert down.returncode == 0, down.stderr[-2000:]
