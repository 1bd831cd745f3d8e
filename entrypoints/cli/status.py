"""`kefu status`: what /readyz reports, for a person at a terminal; exit 1 when not ready."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from typing import Any, TextIO

import requests
from dependency_injector import providers

from adapters.logs.escaping import escape_controls
from domain.errors import QueueUnavailable
from entrypoints.cli.unreachable import why_unreachable
from entrypoints.service.bootstrap import build_container, load_settings
from entrypoints.service.queue_readiness import STORE_ACTION
from entrypoints.service.readiness import Readiness

TIMEOUT = 10.0
HELP = "whether kefu can take and answer pushes now, check by check; exit 1 when not"
_NAMES = {
    "rules": "rules",
    "state_store": "state store",
    "access_token": "access token",
    "previous_credentials": "previous keys",
    "reply_queue": "reply queue",
    "queue_file": "queue file",
    "senders": "senders",
}


class NotAReport(Exception):
    """The URL answered, with something else than a readiness report."""


def add_command(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = subparsers.add_parser(
        "status",
        help=HELP,
        description=HELP + ". Without --url the checks run here, as a worker of the service "
        "would run them. Settings it reads: the service's own (KEFU_TOKEN, KEFU_APPID, the "
        "rules source, KEFU_APPSECRET and KEFU_WECHAT_API_BASE for the access token, "
        "KEFU_REDIS_URL or KEFU_STATE_DIR for the state and the queue); with --url none.",
    )
    command.add_argument(
        "--url", help="ask a running kefu instead, e.g. http://127.0.0.1:8000 (its /readyz)"
    )
    command.set_defaults(run=run)


def run(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    if args.url:
        try:
            report = _remote(args.url)
        except (requests.RequestException, NotAReport) as failure:
            why = (
                str(failure)
                if isinstance(failure, NotAReport)
                else why_unreachable(failure, args.url, TIMEOUT)
            )
            said = f"kefu status: no readiness report from {args.url}: {why}"
            print(escape_controls(said), file=sys.stderr)
            return 1
    else:
        report = _local()
    print_report(report, out)
    return 0 if report.get("ready") is True else 1


def _local() -> dict[str, Any]:
    container = build_container(load_settings())
    # The checks need the rules and the stores, never sender threads of their own.
    container.senders.override(providers.Object(None))
    container.rules_wait.override(providers.Object(True))
    for resource in (container.logging, container.state_backend, container.rules):
        resource.init()
    try:
        readiness: Readiness = container.readiness()
        return readiness.report()
    except QueueUnavailable as failure:  # the queue's file cannot even be opened here
        check = {"ok": False, "detail": str(failure), "action": STORE_ACTION}
        return {"ready": False, "checks": {"reply_queue": check}}
    finally:
        container.shutdown_resources()


def _remote(url: str) -> dict[str, Any]:
    answer = requests.get(f"{url.rstrip('/')}/readyz", timeout=TIMEOUT)
    try:
        report = answer.json()
    except requests.JSONDecodeError:
        report = None
    if not isinstance(report, dict) or not isinstance(report.get("checks"), dict):
        raise NotAReport(f"HTTP {answer.status_code}, not a readiness report")
    return report


def print_report(report: Mapping[str, Any], out: TextIO) -> None:
    print("kefu is ready" if report.get("ready") is True else "kefu is NOT ready", file=out)
    for name, check in report["checks"].items():
        mark = "ok  " if check.get("ok") else "FAIL"
        shown = f"{escape_controls(_NAMES.get(name, name)):<13} {check.get('detail', '')}"
        print(f"  {mark}  {escape_controls(shown)}", file=out)
        if not check.get("ok") and check.get("action"):
            print(f"        {'':<13} what to do: {escape_controls(str(check['action']))}", file=out)
