"""The examples an operator copies work as shown: env files, the README's by-hand run, the unit."""

from __future__ import annotations

import configparser
import contextlib
import os
import re
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from entrypoints.cli.gunicorn_process import ROOT, free_port
from entrypoints.sandbox.main import serve_sandbox
from entrypoints.service.settings import Settings
from tests.e2e.servers import healthy, stop_group
from tests.polling import wait_until

README = (ROOT / "README.md").read_text(encoding="utf-8")
UNIT = ROOT / "config" / "kefu.service"
WORKER_UNIT = ROOT / "config" / "kefu-worker.service"
BIN = Path(sys.executable).parent
# The units' /opt/kefu is a venv kefu is installed in: this one.
VENV = str(BIN.parent)
# try.env names the checkout's example rules and media relatively; the units run elsewhere.
CHECKOUT_PATHS = {
    "KEFU_RULES_FILE": str(ROOT / "config" / "rules.example.json"),
    "KEFU_MEDIA_ROOT": str(ROOT / "config"),
}


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without any kefu or gunicorn setting, with the venv's bin first on PATH."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith(("KEFU_", "GUNICORN_"))}
    kept = {k: v for k, v in kept.items() if k not in {"PORT", "HOST", "WEB_CONCURRENCY"}}
    return {**kept, "PATH": f"{BIN}{os.pathsep}{kept.get('PATH', '')}", **extra}


def sourced(path: Path) -> dict[str, str]:
    """The KEFU_ variables bash exports after `set -a; . path; set +a`, as the README says."""
    script = f"set -a; . {shlex.quote(str(path))}; set +a; env -0"
    out = subprocess.run(
        ["bash", "-c", script], env=clean_env(), capture_output=True, check=True, timeout=30
    ).stdout.decode()
    pairs = (line.split("=", 1) for line in out.split("\0") if "=" in line)
    return {name: value for name, value in pairs if name.startswith("KEFU_")}


def test_the_example_env_file_loads_as_the_readme_says_and_its_key_is_43_characters(tmp_path):
    assert "set -a; . ./.env; set +a" in README
    env = sourced(ROOT / "config" / "kefu.env.example")
    assert len(env["KEFU_ENCODING_AES_KEY"]) == 43
    # Everything but the folders (which an operator creates) is accepted as it stands.
    settings = Settings.from_env({**env, "KEFU_MEDIA_ROOT": str(tmp_path)})
    assert settings.encoding_aes_key == env["KEFU_ENCODING_AES_KEY"]
    assert settings.rules_url == env["KEFU_RULES_URL"]


def by_hand() -> tuple[str, list[str]]:
    """The README's set-up line and its three commands, comments stripped."""
    section = README.split("## Try it by hand", 1)[1].split("\n## ", 1)[0]
    setup = re.search(r"loaded \(`([^`]+)`\)", section)
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert setup and block
    commands = [line.split("#", 1)[0].strip() for line in block.group(1).splitlines()]
    return setup.group(1), [c for c in commands if c]


@contextlib.contextmanager
def started(script: str, env: Mapping[str, str], log: Path) -> Iterator[subprocess.Popen[str]]:
    with log.open("w") as out:
        process = subprocess.Popen(
            ["bash", "-c", script],
            cwd=ROOT,
            env=dict(env),
            stdout=subprocess.PIPE if log.suffix == ".pipe" else out,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        stop_group(process, signal.SIGINT)


def wait_healthy(url: str, process: subprocess.Popen[Any], log: Path) -> None:
    def up() -> bool:
        assert process.poll() is None, log.read_text()
        return healthy(url)

    try:
        wait_until(up, timeout=30, interval=0.1)
    except AssertionError:
        raise AssertionError(f"kefu did not become healthy:\n{log.read_text()}") from None


def test_try_it_by_hand_runs_the_sandbox_kefu_and_a_simulated_user_in_three_commands(tmp_path):
    setup, commands = by_hand()
    assert [c.split()[:2] for c in commands] == [
        ["kefu", "sandbox"],
        ["kefu", "serve"],
        ["kefu", "simulate"],
    ]
    sandbox_port, kefu_port = free_port(), free_port()
    # The commands as shown, on free ports instead of 9100 and 8000, with state in tmp_path.
    moved = (
        f"export KEFU_WECHAT_API_BASE=http://127.0.0.1:{sandbox_port} PORT={kefu_port} "
        f"KEFU_STATE_DIR={tmp_path / 'state'} WEB_CONCURRENCY=1 "
        f"KEFU_METRICS_ADDR=127.0.0.1:{free_port()}"
    )
    env = clean_env()
    sandbox_script = f"{setup}; {moved}; exec {commands[0]} --port {sandbox_port}"
    with started(sandbox_script, env, tmp_path / "sandbox.pipe") as sandbox:
        assert sandbox.stdout is not None
        assert "WeChat sandbox on" in sandbox.stdout.readline()
        with started(f"{setup}; {moved}; exec {commands[1]}", env, tmp_path / "kefu.log") as kefu:
            wait_healthy(f"http://127.0.0.1:{kefu_port}", kefu, tmp_path / "kefu.log")
            simulate = commands[2].replace(":8000/", f":{kefu_port}/")
            user = subprocess.run(
                ["bash", "-c", f"{setup}; {moved}; {simulate}"],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert user.returncode == 0, user.stdout + user.stderr
            assert "200" in user.stdout and "success" in user.stdout
            calls = [sandbox.stdout.readline() for _ in range(2)]
    assert calls[0].startswith("POST /cgi-bin/stable_token -> 0 ok")
    assert calls[1].startswith("POST /cgi-bin/message/custom/send -> 0 ok")
    assert '"msgtype":"link"' in calls[1]


def unit(path: Path = UNIT) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys keep their case
    parser.read(path, encoding="utf-8")
    return parser


def here(text: str, state: Path) -> str:
    """A unit's paths moved: /opt/kefu to this venv, /var/lib/kefu to state."""
    return text.replace("/opt/kefu", VENV).replace("/var/lib/kefu", str(state))


def unit_here(folder: Path, env_file: Path, path: Path = UNIT) -> Path:
    """The unit with this venv as /opt/kefu and its EnvironmentFile at env_file."""
    text = here(path.read_text(encoding="utf-8"), folder)
    text = text.replace("/etc/kefu/kefu.env", str(env_file))
    copy = folder / path.name
    copy.write_text(text, encoding="utf-8")
    return copy


@pytest.mark.systemd
@pytest.mark.parametrize("path", [UNIT, WORKER_UNIT], ids=lambda path: path.name)
def test_the_systemd_units_pass_systemd_analyze_verify_without_a_warning(tmp_path, path):
    verified = subprocess.run(
        ["systemd-analyze", "verify", str(unit_here(tmp_path, ROOT / "config" / "try.env", path))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (verified.returncode, verified.stderr.strip()) == (0, "")


@pytest.mark.parametrize("path", [UNIT, WORKER_UNIT], ids=lambda path: path.name)
def test_the_units_set_up_steps_make_the_user_and_folders_the_unit_runs_with(path):
    """The header's useradd makes the unit's User, whose home is its state folder."""
    header = UNIT.read_text(encoding="utf-8").split("[Unit]", 1)[0]
    service = unit(path)["Service"]
    useradd = next(line for line in header.splitlines() if "useradd" in line).split("#", 2)[1]
    words = shlex.split(useradd)
    assert words[-1] == service["User"] == service["Group"]
    assert words[words.index("--home-dir") + 1] == service["WorkingDirectory"]
    assert service["WorkingDirectory"] == f"/var/lib/{service['StateDirectory']}"
    assert service["ExecStart"].startswith("/opt/kefu/bin/kefu ")
    assert "python3 -m venv /opt/kefu" in header
    assert service["EnvironmentFile"] == "/etc/kefu/kefu.env"
    assert "config/kefu.env.example /etc/kefu/kefu.env" in header


def environment_file(path: Path) -> dict[str, str]:
    """KEY=value lines as systemd's EnvironmentFile= reads them (comments and blanks skipped)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    pairs = (line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))
    return {name.strip(): value.strip() for name, value in pairs}


def live_members(group: int) -> list[int]:
    """Processes of a process group that still run (zombies awaiting their reaper excluded)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # it ended while we looked
            continue
        state, pgrp = fields[0], int(fields[2])
        if pgrp == group and state != "Z":
            members.append(int(stat.parent.name))
    return members


def test_the_systemd_units_command_serves_and_stops_within_its_timeout_on_its_kill_signal(
    tmp_path,
):
    service = unit()["Service"]
    assert (service["KillMode"], service["KillSignal"]) == ("mixed", "SIGTERM")
    command = shlex.split(here(service["ExecStart"], tmp_path / "state"))
    port = free_port()
    with serve_sandbox("127.0.0.1", 0, "wx7e57000000000001", "try-it-by-hand-app-secret") as api:
        settings = environment_file(ROOT / "config" / "try.env")
        settings |= {"KEFU_WECHAT_API_BASE": api.url, "KEFU_STATE_DIR": str(tmp_path / "state")}
        settings |= {"KEFU_METRICS_ADDR": f"127.0.0.1:{free_port()}", **CHECKOUT_PATHS}
        env = clean_env(**settings, PORT=str(port), WEB_CONCURRENCY="2")
        log = tmp_path / "kefu.log"
        (tmp_path / "state").mkdir()  # StateDirectory=, the WorkingDirectory
        with log.open("w") as out:
            main = subprocess.Popen(
                command,
                cwd=tmp_path / "state",
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            wait_healthy(f"http://127.0.0.1:{port}", main, log)
            main.send_signal(signal.SIGTERM)  # KillMode=mixed: the main process only
            main.wait(timeout=float(service["TimeoutStopSec"]))
            assert live_members(main.pid) == []  # no worker outlived the master
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(main.pid, signal.SIGKILL)
            main.wait()
    assert main.returncode == 0


def test_the_worker_units_command_sends_and_stops_within_its_timeout_on_its_kill_signal(
    tmp_path,
):
    service = unit(WORKER_UNIT)["Service"]
    assert (service["KillMode"], service["KillSignal"]) == ("mixed", "SIGTERM")
    command = shlex.split(here(service["ExecStart"], tmp_path / "state"))
    settings = environment_file(ROOT / "config" / "try.env") | CHECKOUT_PATHS
    settings |= {"KEFU_STATE_DIR": str(tmp_path / "state"), "KEFU_METRICS_ADDR": "off"}
    (tmp_path / "state").mkdir()
    log = tmp_path / "worker.log"
    with log.open("w") as out:
        worker = subprocess.Popen(
            command,
            cwd=tmp_path / "state",
            env=clean_env(**settings),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_until(lambda: "reply sender(s) started" in log.read_text(), timeout=30)
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=float(service["TimeoutStopSec"]))
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
    assert worker.returncode == 0, log.read_text()
