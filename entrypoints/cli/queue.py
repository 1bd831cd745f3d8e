"""`kefu worker` (reply senders without HTTP) and `kefu dead-letters` (inspect, retry, drop)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, TextIO

from dependency_injector import providers

from adapters.logs.escaping import escape_controls
from adapters.queue.dead_letters import DeadLetter
from adapters.queue.queue import HueyReplyQueue
from entrypoints.cli.columns import table
from entrypoints.service.bootstrap import load_settings
from entrypoints.service.container import Container
from entrypoints.service.metrics_server import MetricsAddressError, serve_metrics

if TYPE_CHECKING:  # argparse's class takes no type argument at run time
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]

WORKER_GRACE = 30.0
"""Seconds `kefu worker` lets running sends finish after SIGTERM or Ctrl-C."""
READS = (
    "Settings it reads: the service's own (KEFU_TOKEN, KEFU_APPID and the rules source must be "
    "set); the dead letters are kept in KEFU_REDIS_URL, or else KEFU_STATE_DIR."
)
WORKER_HELP = "run reply senders only (no HTTP), to scale sending apart from the web tier"
WORKER_DESCRIPTION = (
    f"{WORKER_HELP}: takes the replies `kefu serve` queued and sends them through WeChat's API "
    "until SIGTERM or Ctrl-C, then lets running sends finish (up to "
    f"{WORKER_GRACE:g} s). Settings it reads: the same KEFU_ settings as `kefu serve` (they must "
    "be valid there too); what it uses: the queue it shares with the web tier (KEFU_REDIS_URL, or "
    "KEFU_STATE_DIR on the same host), KEFU_APPID, KEFU_APPSECRET and KEFU_WECHAT_API_BASE for "
    "WeChat's API, KEFU_MEDIA_ROOT and KEFU_MEDIA_ALLOW_HOSTS for images, KEFU_SENDERS (sender "
    "threads, at least 1), KEFU_METRICS_ADDR (its own metrics; give it a port of its own beside "
    "a web tier), KEFU_LOG_LEVEL and KEFU_LOG_FORMAT."
)
HEADER = ("id", "user", "push", "replies", "attempts", "failed at (UTC)", "last error")


def run_worker(env: Mapping[str, str] = os.environ) -> int:
    """Send replies until SIGTERM or SIGINT; then let running sends finish and exit 0."""
    container = Container(settings=load_settings(env))
    # NOTE: KEFU_SENDERS=0 means "not in the web tier"; a worker that sends nothing is no use.
    container.sender_count.override(providers.Object(max(1, container.settings().senders)))
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    container.logging.init()
    container.state_backend.init()
    address = container.settings().metrics_addr
    try:
        # One process: its own metrics, on KEFU_METRICS_ADDR (a port of its own on a web host).
        metrics = serve_metrics(address) if address is not None else None
    except MetricsAddressError as bad:
        print(f"kefu worker: {bad}", file=sys.stderr)
        container.shutdown_resources()
        return 2
    pool = container.senders()
    container.queue_gauges.init()
    try:
        stopping.wait()
    finally:
        pool.stop(WORKER_GRACE)
        container.shutdown_resources()
        if metrics is not None:
            metrics.stop()
    return 0


def dead_letters(
    args: argparse.Namespace, env: Mapping[str, str] = os.environ, out: TextIO | None = None
) -> int:
    """List dead letters, or retry or drop those named (or all); 1 when an id was not found."""
    out = out or sys.stdout
    container = Container(settings=load_settings(env))
    try:
        queue = container.reply_queue()
        if args.action is None:
            out.write(dead_letter_table(queue.dead_letters.all()))
            out.write(set_aside_lines(container.holding_queue() or queue))
            return 0
        return _act(queue, args.action, _chosen(queue, args), out)
    finally:
        container.shutdown_resources()


def _chosen(queue: HueyReplyQueue, args: argparse.Namespace) -> list[str]:
    if args.all:
        return [letter.job_id for letter in queue.dead_letters.all()]
    return list(args.ids)


def _act(queue: HueyReplyQueue, action: str, job_ids: Sequence[str], out: TextIO) -> int:
    missing = 0
    for job_id in job_ids:
        found = queue.retry_dead(job_id) if action == "retry" else _drop(queue, job_id)
        missing += not found
        done = "queued again" if action == "retry" else "dropped"
        out.write(f"{escape_controls(job_id)}  {done if found else 'no such dead letter'}\n")
    if not job_ids:
        out.write("no dead letters\n")
    return 1 if missing else 0


def _drop(queue: HueyReplyQueue, job_id: str) -> bool:
    return queue.dead_letters.take(job_id) is not None


def dead_letter_table(letters: Sequence[DeadLetter]) -> str:
    """One row per dead letter; openids shortened, as everywhere kefu shows them."""
    if not letters:
        return "no dead letters\n"
    rows = [
        (
            letter.job_id,
            mask(letter.job.to_user),
            letter.job.key.replace(letter.job.to_user, mask(letter.job.to_user)),
            "+".join(letter.job.kinds),
            str(letter.attempts),
            time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(letter.failed_at)),
            letter.last_error,
        )
        for letter in letters
    ]
    return table(HEADER, rows)


def set_aside_lines(queue: HueyReplyQueue) -> str:
    """Queue files set aside as unreadable: their jobs that could be read were queued again,
    what else they held is for the operator to recover."""
    queue_file = queue.stores.file
    if queue_file is None:
        return ""
    return "".join(
        f"unreadable queue file set aside: {aside}; those were queued again, recover the rest"
        " with sqlite3 .recover\n"
        for aside in queue_file.set_aside_report()
    )


def mask(openid: str) -> str:
    """Enough of an openid to tell users apart, never the whole of it."""
    return openid if len(openid) <= 6 else f"{openid[:4]}…{openid[-2:]}"


def add_queue_commands(subparsers: Subparsers, env: Mapping[str, str] = os.environ) -> None:
    """Register `worker` and `dead-letters [retry|drop] ID…|--all`."""
    worker = subparsers.add_parser("worker", help=WORKER_HELP, description=WORKER_DESCRIPTION)
    worker.set_defaults(run=lambda args: run_worker(env))
    what = "list, retry or drop replies that finally failed"
    dead = subparsers.add_parser("dead-letters", help=what, description=f"{what}. {READS}")
    dead.set_defaults(run=lambda args: dead_letters(args, env), action=None)
    actions = dead.add_subparsers(dest="action", metavar="ACTION")
    for action, does in (
        ("retry", "put the dead letters named (or --all) back on the queue"),
        ("drop", "delete the dead letters named (or --all)"),
    ):
        chosen = actions.add_parser(action, help=does, description=f"{does}. {READS}")
        chosen.add_argument("ids", nargs="*", metavar="ID")
        chosen.add_argument("--all", action="store_true", help="every dead letter")
        chosen.set_defaults(run=lambda args, parser=chosen: _checked(args, parser, env))


def _checked(
    args: argparse.Namespace, parser: argparse.ArgumentParser, env: Mapping[str, str]
) -> int:
    if bool(args.ids) == bool(args.all):
        parser.error("name dead letters by ID, or give --all")
    return dead_letters(args, env)
