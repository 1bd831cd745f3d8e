"""The `kefu` command line (contract section 3): one subcommand per function in COMMANDS."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from importlib.metadata import version
from typing import TYPE_CHECKING

from entrypoints.cli import queue, rules, serve, simulate, status
from entrypoints.demo import main as demo
from entrypoints.preview import main as preview
from entrypoints.sandbox import command as sandbox

if TYPE_CHECKING:  # argparse's class takes no type argument at run time
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]


# One function per command: each adds its parser and sets `run(args) -> exit status` on it.
COMMANDS: tuple[Callable[[Subparsers], None], ...] = (
    serve.add_command,
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
    top.add_argument("--version", action="version", version=f"kefu {version('kefu')}")
    subparsers = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add_command in COMMANDS:
        add_command(subparsers)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    raise SystemExit(main())
