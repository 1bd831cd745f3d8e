"""`kefu rules check` and `kefu rules match TEXT`: the rules document as a CMS editor sees it."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Mapping
from typing import TextIO

from adapters.logs.escaping import escape_controls
from adapters.rules.errors import RulesFetchError
from adapters.rules.last_good import rule_count
from adapters.wechat_api.bodies import message_body, utf8_json
from adapters.wechat_push.encoding import encode_transfer
from adapters.wechat_push.fields import PushFormat
from domain.answering import question_for
from domain.messages import TextMessage
from domain.ports import Matchers
from domain.replies import ImageRef, Reply, TransferReply, images_of, outbound_for
from domain.rules import Match, RuleSet, normalise
from domain.rules_document import ParsedRules
from domain.similar import judge
from entrypoints.cli.rules_table import format_table, report_rows
from entrypoints.cli.stats import add_stats_command
from entrypoints.service.container import RulesContainer
from entrypoints.service.settings import RulesSettings, SettingsError

TOUSER = "OPENID"
ORIGINAL_ID = "<original id of the mini program>"
Clock = Callable[[], float]
READS = (
    "Settings it reads: KEFU_RULES_URL or KEFU_RULES_FILE (where the rules come from), "
    "KEFU_RULES_HEADERS_FILE (headers sent to the CMS) and KEFU_MEDIA_ROOT (where the images "
    "they name are); no WeChat settings."
)


def read_rules(env: Mapping[str, str], *, strict: bool) -> tuple[ParsedRules, RulesContainer]:
    """The document from the configured source, fetched now; strict also rejects missing files."""
    rules = RulesContainer(settings=RulesSettings.from_env(env))
    media = rules.media_files()
    # The service only rejects paths leaving the root (a file may be added later); editors
    # checking the document want to hear about missing files too.
    check = media.problem_with if strict else media.containment_problem
    return rules.source(check_image=check).check(), rules


def check_rules(
    env: Mapping[str, str] = os.environ, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Print one row per key; 0 when all is well, 1 on any problem, 2 when nothing was read."""
    out = out or sys.stdout
    try:
        parsed, _ = read_rules(env, strict=True)
    except (SettingsError, RulesFetchError) as failure:
        return _unavailable(failure, err or sys.stderr)
    rows = report_rows(parsed)
    out.write(format_table(rows))
    accepted = rule_count(parsed.rules)
    rejected = len({problem.key for problem in parsed.problems})
    print(f"{len(rows)} key(s): {accepted} in force, {rejected} rejected", file=out)
    if not accepted:
        print("no usable rules: the service would keep its last good rules", file=out)
    return 1 if rejected or not accepted else 0


def match_text(
    text: str,
    env: Mapping[str, str] = os.environ,
    out: TextIO | None = None,
    err: TextIO | None = None,
    touser: str = TOUSER,
    clock: Clock = time.time,
) -> int:
    """Print the rule text hits and the exact bodies its replies would produce."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        parsed, parts = read_rules(env, strict=False)
    except (SettingsError, RulesFetchError) as failure:
        return _unavailable(failure, err)
    if rejected := len({problem.key for problem in parsed.problems}):
        print(f"note: {rejected} key(s) rejected; see `kefu rules check`", file=err)
    message = TextMessage(
        to_user=ORIGINAL_ID, from_user=touser, create_time=int(clock()), msg_id="0", content=text
    )
    match, how = parsed.rules.match(message), ""
    if question_for(message, match, parsed.rules) is not None:
        match, how = _similar(parsed.rules, parts.matchers(), normalise(text), match, out)
    key = escape_controls(match.key + how) if match.key is not None else None
    print(f"rule: {key}" if key is not None else "rule: none (no reply)", file=out)
    media = parts.media_files()
    for reply in match.replies:
        print(escape_controls(shown(reply, touser, clock)), file=out)
        for ref in images_of(reply):
            if problem := media.problem_with(ref):
                note = f"note: {ref.value}: {problem}; this image cannot be sent yet"
                print(escape_controls(note), file=out)
    return 0


def _similar(
    rules: RuleSet, matchers: Matchers, text: str, match: Match, out: TextIO
) -> tuple[Match, str]:
    """Print the top similar-question candidates; the match that answers (else `match`), and
    how it was found."""
    verdict = judge(matchers.for_rules(rules), text, rules.tuning)
    tuning = rules.tuning
    print(
        f"similar questions: confidence {verdict.confidence:.3f} (answers from "
        f"{tuning.threshold:.3f}, with a lead of at least {tuning.margin:.3f})",
        file=out,
    )
    for rank, candidate in enumerate(verdict.candidates, 1):
        mark = "  <- answers" if candidate == verdict.answer else ""
        score = f"{candidate.score * 100:.0f} %"
        line = f"  {rank}. {score} {candidate.key} (closest: {candidate.text}){mark}"
        print(escape_controls(line), file=out)
    answer = verdict.answer
    if answer is None:
        return match, ""
    rule = next(rule for rule in rules.similar if rule.key == answer.key)
    return Match(rule.key, rule.replies), f" (similar question {answer.score * 100:.0f} %)"


def shown(reply: Reply, touser: str, clock: Clock = time.time) -> str:
    """One reply as it leaves kefu: a custom/send body, or the passive reply to the push."""
    if isinstance(reply, TransferReply):
        passive = encode_transfer(PushFormat.JSON, touser, ORIGINAL_ID, int(clock()))
        return f"passive reply: {passive}"
    outbound = outbound_for(reply, _media_id)
    return "send: " + utf8_json(message_body(touser, outbound)).decode()


def add_rules_commands(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    env: Mapping[str, str] = os.environ,
) -> None:
    """Register `rules check` and `rules match TEXT`; each sets `run(args) -> exit status`."""
    what = "check the rules document, try a text on it, or see what users asked"
    rules = subparsers.add_parser("rules", help=what, description=f"{what}. {READS}")
    commands = rules.add_subparsers(dest="rules_command", required=True)
    does = "fetch the rules document now and report every problem by key; exit 1 when any"
    check = commands.add_parser("check", help=does, description=f"{does}. {READS}")
    check.set_defaults(run=lambda args: check_rules(env))
    does = (
        "show the rule TEXT hits (with the top 3 similar questions) and the exact bodies its"
        " replies would send"
    )
    match = commands.add_parser("match", help=does, description=f"{does}. {READS}")
    match.add_argument("text", metavar="TEXT")
    match.add_argument("--touser", default=TOUSER, help="openid shown in the bodies")
    match.set_defaults(run=lambda args: match_text(args.text, env, touser=args.touser))
    add_stats_command(commands, env)


def _unavailable(failure: SettingsError | RulesFetchError, err: TextIO) -> int:
    lines = failure.problems if isinstance(failure, SettingsError) else [str(failure)]
    for line in lines:
        print(escape_controls(f"kefu: {line}"), file=err)
    return 2


def _media_id(ref: ImageRef) -> str:
    return f"<media id of {ref.value}>"
