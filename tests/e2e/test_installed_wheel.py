"""kefu as a user installs it: the wheel in a fresh venv, every command run from an empty folder."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from entrypoints.cli.gunicorn_process import ROOT, free_port
from entrypoints.demo.conversation import SCRIPT
from entrypoints.sandbox.main import serve_sandbox
from tests.e2e.conftest import AES_KEY, APPID, APPSECRET, TOKEN
from tests.e2e.servers import healthy, stop_group
from tests.polling import wait_until

CACHE = Path.home() / ".cache" / "kefu-test"
LOCK = ROOT / "requirements.lock"
# What the wheel is built from: the files the Containerfile copies too.
SOURCES = ("adapters", "config", "domain", "entrypoints", "pyproject.toml", "README.md", "setup.py")
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["version"]


@dataclass(frozen=True)
class Installed:
    bin: Path
    empty: Path  # the folder every command runs in
    wheel: Path

    def env(self, **settings: str) -> dict[str, str]:
        """This environment without the checkout, kefu's or gunicorn's settings; then settings."""
        own = ("KEFU_", "GUNICORN_", "PYTHON")
        kept = {k: v for k, v in os.environ.items() if not k.startswith(own)}
        kept = {k: v for k, v in kept.items() if k not in {"PORT", "HOST", "WEB_CONCURRENCY"}}
        return {**kept, "PATH": f"{self.bin}{os.pathsep}/usr/bin:/bin", **settings}

    def run(
        self, *args: str, timeout: float = 60, **settings: str
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.bin / "kefu"), *args],
            cwd=self.empty,
            env=self.env(**settings),
            capture_output=True,
            text=True,
            timeout=timeout,
        )


def wheelhouse() -> Path:
    """The locked dependencies, each checked against its hash, kept per lock between runs."""
    folder = CACHE / f"wheelhouse-{hashlib.sha256(LOCK.read_bytes()).hexdigest()[:16]}"
    if not folder.is_dir():
        partial = folder.with_name(f"{folder.name}.partial")
        shutil.rmtree(partial, ignore_errors=True)
        pip = [sys.executable, "-m", "pip", "download", "--quiet", "--require-hashes"]
        pip += ["--no-deps", "--dest", str(partial), "-r", str(LOCK)]
        subprocess.run(pip, check=True, timeout=600)
        partial.rename(folder)
    return folder


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    folder = tmp_path_factory.mktemp("installed")
    source = folder / "source"  # a copy: building leaves build/ and *.egg-info behind
    for name in SOURCES:
        if (ROOT / name).is_dir():
            ignored = shutil.ignore_patterns("__pycache__")
            shutil.copytree(ROOT / name, source / name, ignore=ignored)
        else:
            shutil.copy2(ROOT / name, source / name)
    dist = folder / "dist"
    pip = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(dist)]
    subprocess.run([*pip, str(source)], check=True, timeout=300)
    venv = folder / "venv"
    # Without a pip of its own (the slowest part of making a venv): this pip installs into it.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    install = [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python")]
    install += ["install", "--quiet", "--no-index"]
    install += ["--find-links", str(wheelhouse()), "--find-links", str(dist), "kefu"]
    subprocess.run(install, check=True, timeout=300)
    empty = folder / "empty"
    empty.mkdir()
    (wheel,) = dist.glob("kefu-*.whl")
    return Installed(venv / "bin", empty, wheel)


def test_the_installed_kefu_is_the_wheels_and_says_its_version(installed):
    where = subprocess.run(
        [str(installed.bin / "python"), "-c", "import entrypoints; print(entrypoints.__file__)"],
        cwd=installed.empty,
        env=installed.env(),
        capture_output=True,
        text=True,
        check=True,
    )
    assert where.stdout.startswith(str(installed.bin.parent))  # not the checkout
    shown = installed.run("--version")
    assert (shown.returncode, shown.stdout) == (0, f"kefu {VERSION}\n")


COMMANDS = ["serve", "worker", "demo", "sandbox", "preview", "status", "dead-letters", "simulate"]
COMMANDS += ["rules check", "rules match", "rules stats"]
# Every command's --help from the installed package, in one process (each start costs seconds).
HELPS = """
import contextlib, io, sys
from entrypoints.cli.main import main
for command in sys.argv[1:]:
    shown = io.StringIO()
    with contextlib.redirect_stdout(shown), contextlib.suppress(SystemExit):
        main([*command.split(), "--help"])
    print(shown.getvalue().splitlines()[0])
"""


def test_every_command_of_the_installed_kefu_explains_itself(installed):
    shown = subprocess.run(
        [str(installed.bin / "python"), "-c", HELPS, *COMMANDS],
        cwd=installed.empty,
        env=installed.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    usages = shown.stdout.splitlines()
    assert len(usages) == len(COMMANDS), shown.stdout
    pairs = zip(COMMANDS, usages, strict=True)
    wrong = [(c, u) for c, u in pairs if not u.startswith(f"usage: kefu {c}")]
    assert wrong == []


def test_kefu_demo_runs_from_an_empty_folder_and_leaves_it_empty(installed):
    demo = installed.run("demo", timeout=120)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert f"{len(SCRIPT)} of {len(SCRIPT)} pushes answered 200" in demo.stdout
    assert "[image] poster.jpg" in demo.stdout  # the demo's images ship inside the package
    assert list(installed.empty.iterdir()) == []
    print(demo.stdout)


def test_pipx_installs_the_wheel_with_the_locked_dependencies_and_its_kefu_runs(
    installed, tmp_path
):
    # docs/install.md's pipx line, with the folder its `pip download` line fills.
    pipx = tmp_path / "pipx"
    env = installed.env(
        PIPX_HOME=str(pipx / "home"), PIPX_BIN_DIR=str(pipx / "bin"), PIPX_MAN_DIR=str(pipx / "man")
    )
    pip_args = f"--no-index --find-links {wheelhouse()}"
    done = subprocess.run(
        [sys.executable, "-m", "pipx", "install", "--pip-args", pip_args, str(installed.wheel)],
        cwd=installed.empty,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    piped = Installed(pipx / "bin", installed.empty, installed.wheel)
    shown = piped.run("--version")
    assert (shown.returncode, shown.stdout) == (0, f"kefu {VERSION}\n"), shown.stderr
    demo = piped.run("demo", timeout=120)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert f"{len(SCRIPT)} of {len(SCRIPT)} pushes answered 200" in demo.stdout
    assert list(installed.empty.iterdir()) == []


@contextlib.contextmanager
def serving(installed: Installed, *args: str, **settings: str) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [str(installed.bin / "kefu"), "serve", *args],
        cwd=installed.empty,
        env=installed.env(**settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        stop_group(process, signal.SIGTERM)


def test_kefu_serve_from_an_empty_folder_takes_a_push_on_the_port_it_is_given(installed, tmp_path):
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"你好": {"type": "text", "text": "您好"}}), encoding="utf-8")
    port, metrics = free_port(), f"127.0.0.1:{free_port()}"
    with serve_sandbox("127.0.0.1", 0, APPID, APPSECRET) as api:
        settings = {
            "KEFU_TOKEN": TOKEN,
            "KEFU_ENCODING_AES_KEY": AES_KEY,
            "KEFU_APPID": APPID,
            "KEFU_APPSECRET": APPSECRET,
            "KEFU_RULES_FILE": str(rules),
            "KEFU_WECHAT_API_BASE": api.url,
            "KEFU_STATE_DIR": str(tmp_path / "state"),
            "KEFU_METRICS_ADDR": metrics,
        }
        # The options win over the environment's PORT and WEB_CONCURRENCY.
        flags = ("--port", str(port), "--workers", "1")
        with serving(installed, *flags, **settings, PORT="9", WEB_CONCURRENCY="7") as kefu:
            url = f"http://127.0.0.1:{port}"

            def up() -> bool:
                assert kefu.poll() is None, kefu.communicate()[1]
                return healthy(url)

            wait_until(up, timeout=30)
            pushed = installed.run(
                "simulate", "你好", "--url", f"{url}/wechat/callback", **settings
            )
            assert pushed.returncode == 0, pushed.stderr
            assert "success" in pushed.stdout
            sent = wait_until(lambda: api.state.sent)
        _, log = kefu.communicate()
    assert sent[0]["text"] == {"content": "您好"}
    assert f"Metrics at: http://{metrics}/metrics" in log
    assert log.count("Booting worker") == 1
    assert list(installed.empty.iterdir()) == []


def test_a_taken_port_is_one_line_naming_it_and_leaves_nothing_behind(installed, tmp_path):
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    settings = {
        "KEFU_TOKEN": TOKEN,
        "KEFU_APPID": APPID,
        "KEFU_APPSECRET": APPSECRET,
        "KEFU_RULES_FILE": str(tmp_path / "rules.json"),
        "KEFU_STATE_DIR": str(tmp_path / "state"),
        "KEFU_METRICS_ADDR": f"127.0.0.1:{free_port()}",
        "TMPDIR": str(temporary),
    }
    (tmp_path / "rules.json").write_text("{}", encoding="utf-8")
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        refused = installed.run("serve", "--port", str(port), **settings)
    assert refused.returncode != 0
    errors = [line for line in refused.stderr.splitlines() if "INFO" not in line]
    assert errors == [
        f"kefu: port {port} on 127.0.0.1 is already in use: stop what listens there, "
        "or choose another port with `kefu serve --port N` (or PORT=N)"
    ]
    assert list(temporary.iterdir()) == []  # no kefu-metrics-* folder
