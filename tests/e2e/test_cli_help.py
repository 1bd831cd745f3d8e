"""Every `kefu` subcommand's --help says what it does and which settings it reads."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator

import pytest

from entrypoints.cli.gunicorn_process import ROOT
from entrypoints.cli.main import main, parser

# `kefu serve` and `kefu worker` get theirs with their own flags (issue 18, the packaging work).
# Every KEFU_ variable kefu reads is named in its source as a string.
SOURCE = "\n".join(path.read_text("utf-8") for path in (ROOT / "entrypoints").rglob("*.py"))


def subcommands(
    command: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[str, ...]]:
    for action in command._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*path, name)
                yield from subcommands(sub, (*path, name))


COMMANDS = list(subcommands(parser()))


def test_the_walk_finds_every_command_of_the_contract():
    names = {" ".join(path) for path in COMMANDS}
    assert names >= {
        "demo",
        "simulate",
        "rules",
        "rules check",
        "rules match",
        "rules stats",
        "preview",
        "dead-letters",
        "dead-letters retry",
        "dead-letters drop",
        "status",
        "sandbox",
        "serve",
        "worker",
    }


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_help_says_what_the_command_does_and_the_settings_it_reads(path, capsys):
    with pytest.raises(SystemExit) as done:
        main([*path, "--help"])
    assert done.value.code == 0
    description = " ".join(capsys.readouterr().out.split("\n\n")[1].split())  # after usage
    assert len(description.split("Settings it reads:")[0].split()) >= 6  # says what it does
    assert "Settings it reads: " in description
    reads = description.split("Settings it reads: ")[1]
    named = re.findall(r"KEFU_[A-Z_]+", reads)
    assert named or reads.startswith("none"), reads
    assert [name for name in named if SOURCE.count(f'"{name}') < 1] == []
