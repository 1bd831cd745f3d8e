"""`kefu serve [--host H] [--port N] [--workers N]`: the service under gunicorn, as installed."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from entrypoints.cli.shipped import GUNICORN_CONF
from entrypoints.service.bootstrap import load_settings

if TYPE_CHECKING:  # argparse's class takes no type argument at run time
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]

HELP = "run the service: the WeChat callback, /healthz and /readyz, under gunicorn"
DESCRIPTION = (
    f"{HELP}, with the gunicorn config kefu ships ({GUNICORN_CONF.name}). Settings it reads: "
    "every KEFU_ setting (KEFU_TOKEN, KEFU_APPID, KEFU_APPSECRET, the rules source and the state "
    "folder at least); listens on HOST:PORT (127.0.0.1:8000 unless set, or GUNICORN_BIND) with "
    "WEB_CONCURRENCY worker processes; serves metrics on KEFU_METRICS_ADDR (HOST:PORT, or `off`),"
    " and logs where. The options below win over those variables."
)


def add_command(subparsers: Subparsers) -> None:
    command = subparsers.add_parser("serve", help=HELP, description=DESCRIPTION)
    command.add_argument("--host", help="address to listen on (instead of HOST)")
    command.add_argument("--port", type=_number(1, 65535), help="port (instead of PORT)")
    command.add_argument(
        "--workers", type=_number(1, 64), help="worker processes (instead of WEB_CONCURRENCY)"
    )
    command.set_defaults(run=serve)


def serve(args: argparse.Namespace, env: Mapping[str, str] = os.environ) -> int:
    """Replace this process with gunicorn serving entrypoints.wsgi:app."""
    load_settings(env)  # fail with the settings' own lines before gunicorn starts
    argv = [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF), "entrypoints.wsgi:app"]
    os.execve(sys.executable, argv, gunicorn_environment(args, env))


def gunicorn_environment(args: argparse.Namespace, env: Mapping[str, str]) -> dict[str, str]:
    """env with the options in place of HOST, PORT and WEB_CONCURRENCY."""
    given = {"HOST": args.host, "PORT": args.port, "WEB_CONCURRENCY": args.workers}
    child = {**env, **{name: str(value) for name, value in given.items() if value is not None}}
    if args.host is not None or args.port is not None:
        child.pop("GUNICORN_BIND", None)  # it would win over HOST and PORT in the config
    return child


def _number(low: int, high: int) -> Callable[[str], int]:
    def number(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is not between {low} and {high}")
        return value

    return number
