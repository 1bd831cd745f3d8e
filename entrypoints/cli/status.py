"""`kefu status`: what /readyz reports, for a person at a terminal; exit 1 when not ready."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from typing import Any, TextIO

import requests
from dependency_injector import providers

from domain.errors import QueueUnavailable
from entrypoints.service.bootstrap import build_container, load_settings
from entrypoints.service.queue_readiness import STORE_ACTION
from entrypoints.service.readiness import Readiness

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


def add_command(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = subparsers.add_parser(
        "status",
        help=HELP,
        description=HELP + ". Without --url the checks run here, with this environment's "
        "settings, as a worker of the service would run them.",
    )
    command.add_argument(
        "--url", help="ask a running kefu instead, e.g. http://127.0.0.1:8000 (its /readyz)"
    )
    command.set_defaults(run=run)


def run(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    if args.url:
        try:
            report = _remote(args.url)
        except (requests.RequestException, ValueError) as failure:
            print(f"kefu status: no readiness report from {args.url}: {failure}", file=sys.stderr)
            return 1
    else:
        report = _local()
    print_report(report, out)
    return 0 if report.get("ready") is True else 1


def _local() -> dict[str, Any]:
    container = build_container(load_settings())
    # The checks need the rules and the stores, never sender threads of their own.
    container.senders.override(providers.Object(None))
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
    answer = requests.get(f"{url.rstrip('/')}/readyz", timeout=10)
    report = answer.json()
    if not isinstance(report, dict) or not isinstance(report.get("checks"), dict):
        raise ValueError(f"HTTP {answer.status_code}, not a readiness report")
    return report


def print_report(report: Mapping[str, Any], out: TextIO) -> None:
    print("kefu is ready" if report.get("ready") is True else "kefu is NOT ready", file=out)
    for name, check in report["checks"].items():
        mark = "ok  " if check.get("ok") else "FAIL"
        print(f"  {mark}  {_NAMES.get(name, name):<13} {check.get('detail', '')}", file=out)
        if not check.get("ok") and check.get("action"):
            print(f"        {'':<13} what to do: {check['action']}", file=out)
