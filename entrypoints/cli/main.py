"""The `kefu` command line (contract section 3): one subcommand per function in COMMANDS."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from entrypoints.cli import queue, rules, simulate, status
from entrypoints.cli.gunicorn_process import GUNICORN_CONF
from entrypoints.demo import main as demo
from entrypoints.preview import main as preview
from entrypoints.sandbox import command as sandbox
from entrypoints.service.bootstrap import load_settings


def serve(args: argparse.Namespace) -> int:
    """Replace this process with gunicorn serving entrypoints.wsgi:app."""
    load_settings()  # fail with the settings' own lines before gunicorn starts
    argv = [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF), "entrypoints.wsgi:app"]
    os.execv(sys.executable, argv)


if TYPE_CHECKING:  # argparse's class takes no type argument at run time
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]


def add_serve_command(subparsers: Subparsers) -> None:
    subparsers.add_parser("serve", help="run the service under gunicorn").set_defaults(run=serve)


# One function per command: each adds its parser and sets `run(args) -> exit status` on it.
COMMANDS: tuple[Callable[[Subparsers], None], ...] = (
    add_serve_command,
    demo.add_command,
    simulate.add_command,
    rules.add_rules_commands,
    preview.add_command,
    queue.add_queue_commands,
    sandbox.add_command,
    status.add_command,
)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="kefu", description="WeChat Mini Program auto-replies")
    subparsers = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add_command in COMMANDS:
        add_command(subparsers)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    raise SystemExit(main())
