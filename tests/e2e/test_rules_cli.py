"""`kefu rules check` and `kefu rules match TEXT` against a rules file and a mocked CMS."""

from __future__ import annotations

import argparse
import io
import json
import re
import shlex
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
import requests
import responses
from responses import matchers

from entrypoints.cli.rules import add_rules_commands, check_rules, match_text
from tests.documents import CONTRACT_LINK_SEND, hostile_patterns
from tests.images import png

ROOT = Path(__file__).resolve().parents[2]
DOCS = (ROOT / "docs" / "rules.md").read_text("utf-8")
EXAMPLES = {
    name: json.loads(block)
    for name, block in re.findall(r"<!-- example: (\S+) -->\n```json\n(.*?)```", DOCS, re.S)
}
SAMPLES = re.findall(r"<!-- checked against: (\S+) -->\n```console\n(.*?)```", DOCS, re.S)
CONTRACT = EXAMPLES["contract-4"]
RICH = json.loads((ROOT / "config" / "rules.rich.example.json").read_text("utf-8"))
CMS = "http://127.0.0.1:9/cms/rules"
LINK_BODY = {
    "touser": "OPENID",
    "msgtype": "link",
    "link": CONTRACT_LINK_SEND,
}


@pytest.fixture
def media(tmp_path: Path) -> Path:
    root = tmp_path / "media"
    (root / "cms").mkdir(parents=True)
    (root / "cms" / "poster02.png").write_bytes(png())
    (root / "cms" / "event-thumb.png").write_bytes(png())
    return root


@pytest.fixture
def file_env(tmp_path: Path, media: Path):
    def env(document: object) -> dict[str, str]:
        path = tmp_path / "rules.json"
        path.write_text(json.dumps(document, ensure_ascii=False), "utf-8")
        return {
            "KEFU_RULES_FILE": str(path),
            "KEFU_MEDIA_ROOT": str(media),
            "KEFU_STATE_DIR": str(tmp_path / "state"),
        }

    return env


@pytest.fixture
def cms_env(tmp_path: Path, media: Path) -> dict[str, str]:
    return {"KEFU_RULES_URL": CMS, "KEFU_MEDIA_ROOT": str(media), "KEFU_STATE_DIR": str(tmp_path)}


@pytest.fixture
def cms():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


def check(env: dict[str, str]) -> tuple[int, list[str], list[str]]:
    out, err = io.StringIO(), io.StringIO()
    status = check_rules(env, out, err)
    return status, out.getvalue().splitlines(), err.getvalue().splitlines()


def match(text: str, env: dict[str, str]) -> tuple[int, list[str], list[str]]:
    out, err = io.StringIO(), io.StringIO()
    status = match_text(text, env, out, err, clock=lambda: 1714000000.0)
    return status, out.getvalue().splitlines(), err.getvalue().splitlines()


def rows(lines: list[str]) -> dict[str, list[str]]:
    """keyword -> [type, summary, problems], cut where the dashed line says the columns are."""
    assert lines[0].split() == ["keyword", "type", "summary", "problems"]
    widths = [len(dashes) for dashes in lines[1].split()][:3]
    table = {}
    for line in lines[2:]:
        if re.match(r"\d+ key\(s\): ", line):
            break  # the count under the table
        cells, rest = [], line
        for width in widths:
            cell = ""
            while rest and columns(cell + rest[0]) <= width:
                cell, rest = cell + rest[0], rest[1:]
            cells.append(cell.rstrip())
            rest = rest[2:]
        table[cells[0]] = [*cells[1:], rest]
    return table


def columns(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def sent(line: str) -> object:
    assert line.startswith("send: ")
    return json.loads(line.removeprefix("send: "))


# --- kefu rules check ------------------------------------------------------------------------


def test_check_passes_on_the_contract_example_file_and_prints_the_table(file_env):
    status, out, err = check(file_env(CONTRACT))
    assert (status, err) == (0, [])
    table = rows(out)
    assert list(table) == ["1", "2", "3", "default"]
    assert [cells[0] for cells in table.values()] == ["link", "image", "image", "text"]
    assert table["3"] == ["image", "/cms/poster02.png", ""]
    assert out[-1] == "4 key(s): 4 in force, 0 rejected"


def test_check_reads_the_cms_as_the_service_does(cms, cms_env, file_env):
    accepts_json = matchers.header_matcher({"Accept": "application/json"})
    cms.get(CMS, json={"code": 0, "data": CONTRACT}, match=[accepts_json])
    status, out, _ = check(cms_env)
    assert status == 0
    assert out == check(file_env(CONTRACT))[1]


def test_check_passes_on_the_rich_example_with_its_thumb_in_place(file_env):
    status, out, _ = check(file_env(RICH))
    assert status == 0
    assert rows(out)["人工"] == ["transfer", "hand over to a human agent", ""]
    assert out[-1] == "7 key(s): 7 in force, 0 rejected"


def test_check_with_errors_exits_1_and_names_each_broken_key_and_problem(file_env):
    status, out, _ = check(file_env(EXAMPLES["broken"]))
    assert status == 1
    table = rows(out)
    unknown = "type: unknown type 'video' (expected text, link, image, miniprogrampage or transfer)"
    assert table["视频"] == ["-", "", unknown]
    assert table["下载"][2].startswith("description: empty or not text")
    assert table["官网"][2].startswith("url: 'www.example.com' is not a web address")
    ftp = "url: 'ftp://example.com/poster.jpg' is not a web address or a path"
    assert table["海报"][2].startswith(ftp)
    assert table["秘密"][2].startswith("url: path leaves the media root")
    assert table["re:(下载"][2].startswith("regular expression does not compile")
    assert table["１"] == ["text", "重复", "same keyword as '1' once normalised (expected unique)"]
    assert table["1"] == ["text", "欢迎", ""]
    assert out[-1] == "9 key(s): 2 in force, 7 rejected"


def test_check_names_every_pattern_left_out_of_the_budget_and_keeps_the_rest(file_env):
    status, out, _ = check(file_env(hostile_patterns(3000)))
    assert status == 1
    table = rows(out)
    in_force = [key for key, cells in table.items() if not cells[2]]
    assert in_force == [*list(hostile_patterns(86))[:86], "default"]
    left_out = {key: cells[2] for key, cells in table.items() if cells[2]}
    assert len(left_out) == 3000 - 86
    budget = "(expected re: patterns of total size at most 2000)"
    assert (
        left_out["re:[ab]*a[ab]{12}N0086"]
        == f"pattern size 23 is more than the 22 left of the budget {budget}"
    )
    assert out[-1] == "3001 key(s): 87 in force, 2914 rejected"


def test_check_reports_an_image_file_missing_from_the_media_root(file_env, media):
    (media / "cms" / "event-thumb.png").unlink()
    status, out, _ = check(file_env(RICH))
    assert status == 1
    folder = media.resolve()
    expected = "(expected an image under the media root)"
    problem = f"thumb: no such file under the media root {folder} {expected}"
    assert rows(out)["活动"] == ["-", "", problem]
    assert f"`{problem.replace(str(folder), 'FOLDER')}`" in DOCS


def test_check_fails_a_document_with_nothing_usable(file_env):
    status, out, _ = check(file_env({"1": {"type": "video"}}))
    assert status == 1
    assert out[-1] == "no usable rules: the service would keep its last good rules"


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ({"status": 500, "body": "oops"}, "HTTP 500"),
        ({"body": "<html>login</html>", "content_type": "text/html"}, "not JSON"),
        ({"json": []}, "expected a JSON object, got list"),
        ({"body": requests.ConnectTimeout()}, "timed out"),
        ({"body": requests.ConnectionError("refused")}, "request failed (ConnectionError)"),
    ],
)
def test_check_exits_2_with_one_line_when_the_cms_gives_no_document(cms, cms_env, answer, reason):
    cms.get(CMS + "?token=s3cret", **answer)
    status, out, err = check({**cms_env, "KEFU_RULES_URL": CMS + "?token=s3cret"})
    assert (status, out) == (2, [])
    (line,) = err
    assert line.startswith(f"kefu: rules from {CMS} unavailable: {reason}")
    assert "s3cret" not in line


def test_check_exits_2_when_the_rules_file_is_missing(tmp_path):
    status, out, err = check({"KEFU_RULES_FILE": str(tmp_path / "nope.json")})
    assert (status, out) == (2, [])
    assert err == [
        f"kefu: rules from {tmp_path / 'nope.json'} unavailable: No such file or directory"
    ]


def test_check_needs_only_a_rules_source_and_names_it_when_missing():
    status, out, err = check({"KEFU_RULES_TTL": "soon"})
    assert (status, out) == (2, [])
    assert err == [
        "kefu: KEFU_RULES_TTL='soon' is malformed: expected seconds, 0 or more",
        "kefu: KEFU_RULES_URL is missing: set it to the CMS rules URL, or set KEFU_RULES_FILE",
    ]


# --- kefu rules match TEXT -------------------------------------------------------------------


def test_match_1_prints_the_link_body(file_env):
    status, out, err = match("1", file_env(CONTRACT))
    assert (status, err) == (0, [])
    assert out[0] == "rule: 1"
    assert [sent(line) for line in out[1:]] == [LINK_BODY]


def test_match_over_the_cms_answers_the_same(cms, cms_env):
    cms.get(CMS, json=CONTRACT)
    _, out, _ = match(" １ ", cms_env)
    assert out[0] == "rule: 1"
    assert out[1] == "send: " + json.dumps(LINK_BODY, ensure_ascii=False, separators=(",", ":"))


def test_match_shows_a_transfer_as_the_passive_reply(file_env):
    status, out, _ = match("人工", file_env(RICH))
    assert (status, out[0]) == (0, "rule: 人工")
    label, body = out[1].split(": ", 1)
    assert label == "passive reply"
    assert json.loads(body) == {
        "ToUserName": "OPENID",
        "FromUserName": "<original id of the mini program>",
        "CreateTime": 1714000000,
        "MsgType": "transfer_customer_service",
    }


def test_match_unknown_text_shows_the_default(file_env):
    status, out, _ = match("随便说点什么", file_env(CONTRACT))
    assert status == 0
    assert out[0] == "rule: default"
    assert [sent(line) for line in out[1:]] == [
        {"touser": "OPENID", "msgtype": "text", "text": {"content": "再见"}}
    ]


def test_match_without_a_default_says_no_reply(file_env):
    assert match("hello", file_env({"1": {"type": "text", "text": "一"}}))[1] == [
        "rule: none (no reply)"
    ]


def test_match_an_image_shows_a_placeholder_media_id(file_env):
    _, out, _ = match("3", file_env(CONTRACT))
    assert sent(out[1]) == {
        "touser": "OPENID",
        "msgtype": "image",
        "image": {"media_id": "<media id of /cms/poster02.png>"},
    }


def test_match_still_hits_a_keyword_whose_image_is_missing_and_says_so(file_env, media):
    (media / "cms" / "poster02.png").unlink()
    _, out, _ = match("3", file_env(CONTRACT))
    assert out[0] == "rule: 3"
    assert out[2] == (
        f"note: /cms/poster02.png: no such file under the media root {media.resolve()}; "
        "this image cannot be sent yet"
    )


def test_match_uses_the_valid_rest_of_a_broken_document_and_points_at_check(file_env):
    status, out, err = match("1", file_env(EXAMPLES["broken"]))
    assert (status, out[0]) == (0, "rule: 1")
    assert err == ["note: 7 key(s) rejected; see `kefu rules check`"]


def test_match_exits_2_when_the_cms_is_down(cms, cms_env):
    cms.get(CMS, status=503)
    status, out, err = match("1", cms_env)
    assert (status, out, err) == (2, [], [f"kefu: rules from {CMS} unavailable: HTTP 503"])


# --- the commands as the kefu parser registers them, and the docs' samples ---------------------


def kefu(env: dict[str, str]) -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="kefu")
    add_rules_commands(top.add_subparsers(dest="command", required=True), env)
    return top


def test_the_parser_runs_rules_match_with_its_text(file_env, capsys):
    args = kefu(file_env(CONTRACT)).parse_args(["rules", "match", "1", "--touser", "o_abc"])
    assert args.run(args) == 0
    out = capsys.readouterr().out.splitlines()
    assert [sent(line) for line in out[1:]] == [{**LINK_BODY, "touser": "o_abc"}]


def test_the_parser_runs_rules_check_with_its_exit_status(file_env, capsys):
    args = kefu(file_env(EXAMPLES["broken"])).parse_args(["rules", "check"])
    assert args.run(args) == 1
    assert "视频" in capsys.readouterr().out


def test_the_parser_requires_a_rules_subcommand(capsys):
    with pytest.raises(SystemExit) as usage:
        kefu({}).parse_args(["rules"])
    assert usage.value.code == 2


@pytest.mark.parametrize(("example", "sample"), SAMPLES, ids=[s[1].split("\n")[0] for s in SAMPLES])
def test_the_docs_samples_are_what_the_commands_print(file_env, capsys, example, sample):
    command, *expected = sample.splitlines()
    args = kefu(file_env(EXAMPLES[example])).parse_args(shlex.split(command)[2:])
    args.run(args)
    printed = capsys.readouterr().out.splitlines()
    same_time = re.compile(r'"CreateTime":\d+')
    assert [same_time.sub("", line) for line in printed] == [
        same_time.sub("", line) for line in expected
    ]


def test_the_docs_show_samples_of_both_commands():
    commands = {sample.split("\n")[0].split()[3] for _, sample in SAMPLES}
    assert commands == {"check", "match"}


@pytest.mark.parametrize(("document", "status"), [(CONTRACT, 0), (EXAMPLES["broken"], 1)])
def test_the_commands_run_in_a_fresh_process_without_token_or_appid(file_env, document, status):
    env = {"PATH": "/usr/bin:/bin", "PYTHONIOENCODING": "utf-8", **file_env(document)}
    result = subprocess.run(
        [sys.executable, "-c", "from entrypoints.cli.rules import check_rules as c; exit(c())"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
    )
    assert (result.returncode, result.stderr) == (status, "")
    assert result.stdout.splitlines()[0].split() == ["keyword", "type", "summary", "problems"]
