"""`kefu sandbox` (and `python -m entrypoints.sandbox`): the sandbox as a command."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys

from adapters.logs.escaping import escape_controls
from entrypoints.sandbox.checks import errmsg
from entrypoints.sandbox.main import serve_sandbox
from entrypoints.sandbox.records import Call
from entrypoints.sandbox.state import SandboxState

HELP = "run the local WeChat API sandbox on 127.0.0.1, to try kefu by hand"
DESCRIPTION = (
    f"{HELP}. Settings it reads: KEFU_APPID and KEFU_APPSECRET, as the defaults of --appid and "
    "--appsecret."
)
DEFAULT_PORT = 9100
EPILOG = """\
The sandbox answers the API paths kefu calls (/cgi-bin/stable_token, /cgi-bin/token,
/cgi-bin/media/upload, /cgi-bin/message/custom/send and /business/typing) as WeChat does, for the
given AppID and AppSecret only, and prints one line per call. Point kefu at it with
KEFU_WECHAT_API_BASE=http://127.0.0.1:PORT. Its own routes:

  GET    /sandbox/calls          every call so far, with its errcode and body
  DELETE /sandbox/calls          forget them
  POST   /sandbox/faults         make the next calls to a path fail or stall, e.g.
         {"path": "/cgi-bin/message/custom/send", "errcode": -1, "times": 2}
         {"path": "/cgi-bin/stable_token", "stall": 6}   (answer after 6 s)
         {"path": "/cgi-bin/stable_token", "errcode": 40164}   (IP not whitelisted)
         faults for one path are used up in the order they were added
  GET    /sandbox/faults         faults not used up yet
  DELETE /sandbox/faults         clear them
  POST   /sandbox/tokens/revoke  invalidate every access token issued so far

Stop it with Ctrl-C.
"""


def add_command(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`kefu sandbox`: serve until interrupted."""
    command = subparsers.add_parser(
        "sandbox",
        help=HELP,
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_arguments(command)
    command.set_defaults(run=run)


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"0 picks a free port ({DEFAULT_PORT})"
    )
    parser.add_argument(
        "--appid", default=os.environ.get("KEFU_APPID"), help="the AppID it accepts ($KEFU_APPID)"
    )
    parser.add_argument(
        "--appsecret",
        default=os.environ.get("KEFU_APPSECRET"),
        help="the AppSecret it accepts ($KEFU_APPSECRET)",
    )
    parser.add_argument("--quiet", action="store_true", help="do not print each call")
    parser.add_argument(
        "--no-business-typing",
        action="store_true",
        help="answer /cgi-bin/message/custom/business/typing as an API that does not exist",
    )


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM; 2 without credentials."""
    if not args.appid or not args.appsecret:
        print(
            "kefu sandbox: --appid and --appsecret (or KEFU_APPID and KEFU_APPSECRET) are required",
            file=sys.stderr,
        )
        return 2
    state = SandboxState(on_call=None if args.quiet else _print_call)
    server = serve_sandbox(
        args.host,
        args.port,
        args.appid,
        args.appsecret,
        state,
        business_typing=not args.no_business_typing,
    )
    # Both, explicitly: a shell starting it with `&` makes it ignore SIGINT otherwise. Before
    # the line below, which tells whoever waits for it that it can be stopped.
    previous = {signum: signal.signal(signum, _interrupt) for signum in STOP_SIGNALS}
    try:
        print(f"WeChat sandbox on {server.url}  (calls: {server.url}/sandbox/calls)", flush=True)
        server.wait()
    except KeyboardInterrupt:
        print("WeChat sandbox stopped", flush=True)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        server.stop()
    return 0


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _print_call(call: Call) -> None:
    body = json.dumps(call.body, ensure_ascii=False, separators=(",", ":"))
    said = f"{call.method} {call.path} -> {call.errcode} {errmsg(call.errcode)}  {body}"
    print(escape_controls(said), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m entrypoints.sandbox",
        description=HELP,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_arguments(parser)
    return run(parser.parse_args(argv))
