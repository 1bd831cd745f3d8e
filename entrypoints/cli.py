"""The `kefu` command line (contract section 3)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from entrypoints.bootstrap import load_settings

ROOT = Path(__file__).resolve().parents[1]
GUNICORN_CONF = ROOT / "config" / "gunicorn.conf.py"


def serve(args: argparse.Namespace) -> int:
    """Replace this process with gunicorn serving entrypoints.wsgi:app."""
    load_settings()  # fail with the settings' own lines before gunicorn starts
    argv = [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF), "entrypoints.wsgi:app"]
    os.execv(sys.executable, argv)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="kefu", description="WeChat Mini Program auto-replies")
    commands = top.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the service under gunicorn").set_defaults(run=serve)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    raise SystemExit(main())
