"""`kefu simulate TEXT --url URL`: a push signed (and encrypted) as WeChat would, posted."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from adapters.wechat_push.fields import PushFormat
from entrypoints.cli.push_poster import WECHAT_TIMEOUT, NoResponse, PushPoster
from entrypoints.cli.push_simulator import Mode, PushSimulator, SignedPush
from entrypoints.service.settings import SettingsError, SigningSettings

HELP = "sign (and, with an AES key, encrypt) a push as WeChat would, post it, print the answer"
DESCRIPTION = (
    f"{HELP}. Settings it reads: KEFU_TOKEN and KEFU_APPID (to sign as WeChat does) and "
    "KEFU_ENCODING_AES_KEY (to encrypt, when set)."
)
DEMO_OPENID = "o_kefu_demo_user_0001"


class SimulateError(Exception):
    """The push cannot be built: one line per setting or argument that is wrong (no secret)."""

    def __init__(self, *lines: str) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


def mode_for(signing: SigningSettings, asked: str | None) -> Mode:
    """The asked mode; by default safe with a key and plaintext without one."""
    if asked is None:
        return Mode.SAFE if signing.encoding_aes_key else Mode.PLAINTEXT
    mode = Mode(asked)
    if mode is not Mode.PLAINTEXT and not signing.encoding_aes_key:
        raise SimulateError(
            f"KEFU_ENCODING_AES_KEY is missing: --mode {mode.value} encrypts with it"
        )
    return mode


def build_push(args: argparse.Namespace, env: Mapping[str, str]) -> SignedPush:
    """The push args describe, signed with the credentials in env. Raises SimulateError."""
    _check_text(args)
    try:
        signing = SigningSettings.from_env(env)
    except SettingsError as bad:
        raise SimulateError(*bad.problems) from None
    simulator = PushSimulator(signing.token, signing.appid, signing.encoding_aes_key)
    return simulator.build(
        _fields(simulator, args), PushFormat(args.format), mode_for(signing, args.mode)
    )


def _check_text(args: argparse.Namespace) -> None:
    other = args.image or args.event
    if args.text is None and not other:
        raise SimulateError("TEXT is missing: give what the user types, or --image or --event")
    if args.text is not None and other:
        raise SimulateError("TEXT makes a text message: leave it out with --image or --event")


def _fields(simulator: PushSimulator, args: argparse.Namespace) -> dict[str, str | int]:
    if args.event == "enter":
        return simulator.enter(args.openid)
    if args.image:
        return simulator.image(args.openid)
    return simulator.text(args.text, args.openid)


def run(
    args: argparse.Namespace, env: Mapping[str, str] = os.environ, out: TextIO = sys.stdout
) -> int:
    """Post the push args.repeat times, unchanged; 0 when every answer is 200, 1 otherwise."""
    try:
        push = build_push(args, env)
    except SimulateError as bad:
        for line in bad.lines:
            print(f"kefu simulate: {line}", file=sys.stderr)
        return 2
    if args.cacert is not None and not args.cacert.is_file():
        print(f"kefu simulate: --cacert {args.cacert}: no such file", file=sys.stderr)
        return 2
    # A staging server's certificate, signed by a CA of its own, is checked against that CA.
    verify = str(args.cacert) if args.cacert is not None else True
    poster, failed = PushPoster(args.url, timeout=args.timeout, verify=verify), False
    for _ in range(args.repeat):
        try:
            answer = poster.post(push)
        except NoResponse as missing:
            print(f"no answer: {missing.reason}", file=out, flush=True)
            failed = True
            continue
        print(answer.line(), file=out, flush=True)
        failed = failed or not answer.ok
    return 1 if failed else 0


def add_command(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("simulate", help=HELP, description=DESCRIPTION)
    parser.set_defaults(run=run)
    parser.add_argument("text", nargs="?", metavar="TEXT", help="what the user types")
    parser.add_argument("--url", required=True, type=_http_url, help="the full callback URL")
    parser.add_argument(
        "--format", choices=[f.value for f in PushFormat], default="json", help="default: json"
    )
    parser.add_argument(
        "--mode",
        choices=[m.value for m in Mode],
        help="default: safe when KEFU_ENCODING_AES_KEY is set, else plaintext",
    )
    kind = parser.add_mutually_exclusive_group()
    kind.add_argument("--event", choices=["enter"], help="the user enters the chat instead")
    kind.add_argument("--image", action="store_true", help="the user sends an image instead")
    parser.add_argument("--openid", default=DEMO_OPENID, help="the user's OpenID")
    parser.add_argument(
        "--repeat", type=_positive, default=1, metavar="N", help="post the identical push N times"
    )
    parser.add_argument(
        "--cacert",
        type=Path,
        metavar="FILE",
        help="verify an https URL's certificate with the CA certificates (PEM) in FILE",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=WECHAT_TIMEOUT,
        metavar="SECONDS",
        help=f"how long to wait for each answer (default: {WECHAT_TIMEOUT:g}, as WeChat does)",
    )


def _http_url(value: str) -> str:
    if not value.lower().startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError(f"{value!r} is not an http(s) URL")
    return value


def _positive(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of 1 or more")
    return int(value)
