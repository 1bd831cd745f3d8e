"""The README and docs/ hold together: links reach their file and heading, commands exist."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest

from entrypoints.cli.gunicorn_process import ROOT
from entrypoints.cli.main import parser
from entrypoints.service.settings import Settings, SettingsError

README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    kept = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return kept.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    headings = re.findall(r"(?m)^#+ (.+)$", page.read_text(encoding="utf-8"))
    return {slug(heading) for heading in headings}


def shell_lines(page: Path) -> list[str]:
    """Each command of the page's ```sh blocks, its comment stripped."""
    blocks = re.findall(r"```sh\n(.*?)```", page.read_text(encoding="utf-8"), re.S)
    lines = (line.split("  #", 1)[0].strip() for block in blocks for line in block.splitlines())
    return [line for line in lines if line]


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_relative_link_reaches_a_file_and_its_heading(page: Path):
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if target.startswith(("http://", "https://")):
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        assert linked.is_file(), f"{page.name} links to {target}, which does not exist"
        if anchor:
            assert anchor in anchors(linked), f"{page.name} links to {target}: no such heading"


def test_every_kefu_command_of_the_readme_is_one_kefu_accepts():
    commands = [shlex.split(line) for line in shell_lines(README) if line.startswith("kefu ")]
    assert len(commands) >= 8
    for command in commands:
        parser().parse_args(command[1:])  # exits 2 naming the argument it does not know


def test_every_make_target_of_the_readme_exists():
    targets = [line.split()[1] for line in shell_lines(README) if line.startswith("make ")]
    assert targets == ["demo", "check", "test"]
    for target in targets:
        dry = subprocess.run(
            ["make", "-n", target], cwd=ROOT, capture_output=True, text=True, timeout=60
        )
        assert dry.returncode == 0, dry.stderr


def dry_run_pytest(*args: str) -> str:
    """The pytest line `make -n test` would run."""
    dry = subprocess.run(
        ["make", "-n", "test", *args], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert dry.returncode == 0, dry.stderr
    (line,) = [line for line in dry.stdout.splitlines() if "/pytest" in line]
    return line


def test_make_test_runs_three_files_at_a_time_unless_test_jobs_says_otherwise():
    # docs/architecture.md: "three test files at a time", TEST_JOBS=0 one after another.
    assert dry_run_pytest().endswith("pytest -n 3 --dist loadfile")
    assert dry_run_pytest("TEST_JOBS=5").endswith("pytest -n 5 --dist loadfile")
    assert dry_run_pytest("TEST_JOBS=0").endswith("pytest -p no:xdist")


def test_the_readme_stays_a_short_front_page():
    assert len(README.read_text(encoding="utf-8").split()) < 1500


def minimal_settings() -> list[str]:
    """The KEFU_ names the README's "Minimal production settings" list gives."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Minimal production settings", 1)[1].split("\n## ", 1)[0]
    bullets = [line for line in section.splitlines() if line.startswith("- ")]
    return [name for line in bullets for name in re.findall(r"`(KEFU_[A-Z_]+)`", line)]


def test_the_minimal_production_settings_are_enough_and_none_of_the_required_can_go(tmp_path):
    names = minimal_settings()
    assert names[:4] == ["KEFU_TOKEN", "KEFU_ENCODING_AES_KEY", "KEFU_APPID", "KEFU_APPSECRET"]
    example = dict(
        line.split("=", 1)
        for line in (ROOT / "config" / "kefu.env.example").read_text("utf-8").splitlines()
        if line and not line.startswith("#")
    )
    # The one source and the single-host state, as the list says; Redis only for several hosts.
    single_host = [n for n in names if n not in {"KEFU_RULES_FILE", "KEFU_REDIS_URL"}]
    env = {name: example[name] for name in single_host} | {"KEFU_STATE_DIR": str(tmp_path)}
    settings = Settings.from_env(env)
    assert (settings.token, settings.appid) == (example["KEFU_TOKEN"], example["KEFU_APPID"])
    assert settings.encoding_aes_key == example["KEFU_ENCODING_AES_KEY"]
    assert settings.rules_url == example["KEFU_RULES_URL"]
    # Without a rules source the line names both KEFU_RULES_URL and KEFU_RULES_FILE.
    for required, named in [
        ("KEFU_TOKEN", "KEFU_TOKEN"),
        ("KEFU_APPID", "KEFU_APPID"),
        ("KEFU_RULES_URL", "KEFU_RULES_"),
    ]:
        with pytest.raises(SettingsError, match=named):
            Settings.from_env({k: v for k, v in env.items() if k != required})
