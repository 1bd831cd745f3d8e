"""A command's output is on stdout and its log lines on stderr: piping `kefu status` or
`kefu rules check` into another program never passes log lines along."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.e2e.servers import kefu_command, kefu_settings

TEXT_LOG = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR) ")
COMMANDS = [
    ("status",),
    ("rules", "check"),
    ("rules", "match", "1"),
    ("rules", "stats"),
    ("dead-letters",),
]


def is_log_line(line: str) -> bool:
    if TEXT_LOG.match(line):
        return True
    try:
        entry = json.loads(line)
    except ValueError:
        return False
    return isinstance(entry, dict) and {"level", "logger", "message"} <= entry.keys()


@pytest.mark.parametrize("log_format", ["text", "json"])
@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_stdout_holds_the_commands_output_and_no_log_line(tmp_path: Path, command, log_format):
    (tmp_path / "media").mkdir()
    # A key that is rejected, so the rules log a warning as they load.
    rules = {"1": {"type": "text", "text": "一"}, "坏": {"type": "video"}}
    (tmp_path / "rules.json").write_text(json.dumps(rules), encoding="utf-8")
    settings = kefu_settings(
        tmp_path,
        "http://127.0.0.1:9",
        KEFU_LOG_LEVEL="DEBUG",
        KEFU_LOG_FORMAT=log_format,
    )
    done = kefu_command(settings, *command)
    assert done.stdout.strip(), done.stderr
    assert [line for line in done.stdout.splitlines() if is_log_line(line)] == []
    if command == ("status",):  # it starts the service's parts, which log as they start
        assert any(is_log_line(line) for line in done.stderr.splitlines()), done.stderr
