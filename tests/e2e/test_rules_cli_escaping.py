"""`kefu rules` shows control characters in keys and texts escaped, and reports repeated keys."""

from __future__ import annotations

import io
import json
from pathlib import Path

from entrypoints.cli.rules import check_rules, match_text

TEXT = {"type": "text", "text": "回复"}


def run(tmp_path: Path, raw: str, command: str = "check", text: str = "") -> tuple[int, str]:
    (tmp_path / "rules.json").write_text(raw, encoding="utf-8")
    (tmp_path / "media").mkdir(exist_ok=True)
    env = {
        "KEFU_RULES_FILE": str(tmp_path / "rules.json"),
        "KEFU_MEDIA_ROOT": str(tmp_path / "media"),
        "KEFU_STATE_DIR": str(tmp_path / "state"),
    }
    out, err = io.StringIO(), io.StringIO()
    status = check_rules(env, out, err) if command == "check" else match_text(text, env, out, err)
    return status, out.getvalue()


def test_a_key_written_twice_is_reported_and_fails_the_check(tmp_path: Path):
    raw = (
        '{"1": {"type": "text", "text": "一"}, "default": %s, "1": {"type": "text", "text": "二"}}'
    )
    status, out = run(tmp_path, raw % json.dumps(TEXT, ensure_ascii=False))
    assert status == 1
    [line] = [line for line in out.splitlines() if line.startswith("1 ")]
    assert "appears more than once in the document (expected each keyword once)" in line
    assert "二" in line  # JSON keeps the last, and the table shows which one is in force


def test_a_key_repeated_inside_the_data_wrapper_is_reported_too(tmp_path: Path):
    raw = '{"code": 0, "data": {"a": %s, "a": %s}}' % ((json.dumps(TEXT),) * 2)
    status, out = run(tmp_path, raw)
    assert status == 1
    assert "appears more than once" in out


def test_control_characters_in_keys_and_texts_are_shown_escaped(tmp_path: Path):
    document = {
        "@x\nINFO kefu forged line": TEXT,
        "clear\x1b[2J": {"type": "text", "text": "bell\x07 and \u202eevil"},
        "default": TEXT,
    }
    status, out = run(tmp_path, json.dumps(document))
    assert status == 1
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert "\nINFO kefu forged line" not in out
    assert "@x\\nINFO kefu forged line" in out
    assert "clear\\x1b[2J" in out
    assert "bell\\x07 and \\u202eevil" in out


def test_rules_match_escapes_the_key_and_reply_it_prints(tmp_path: Path):
    document = {"re:clear\u202e": {"type": "text", "text": "x\x1b[2Jy"}, "default": TEXT}
    status, out = run(tmp_path, json.dumps(document), "match", "clear\u202e")
    assert status == 0
    assert "\x1b" not in out and "\u202e" not in out
    assert out.splitlines()[0] == "rule: re:clear\\u202e"
    assert '"content":"x\\u001b[2Jy"' in out  # the send body's JSON escape
