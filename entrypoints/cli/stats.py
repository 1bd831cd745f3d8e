"""`kefu rules stats`: keyword hits and the most frequent unmatched texts, per day."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from typing import TextIO

from adapters.logs.escaping import escape_controls
from domain.errors import KefuError
from domain.stats import DAYS_KEPT, DayStats
from entrypoints.cli.columns import table
from entrypoints.service.container import Container
from entrypoints.service.settings import Settings, SettingsError

HELP = "keyword hits and the most frequent unmatched texts, per day, from the running service"
DESCRIPTION = (
    f"{HELP}. Settings it reads: the service's own (KEFU_TOKEN, KEFU_APPID and the rules source "
    "must be set); the counts are read from KEFU_REDIS_URL, or else KEFU_STATE_DIR, under "
    "KEFU_APPID; KEFU_STATS=off means none are kept."
)


def show_stats(
    days: int = DAYS_KEPT,
    env: Mapping[str, str] = os.environ,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Print each day's tables, today first; 0, or 2 when the settings or the store fail."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        settings = Settings.from_env(env)
    except SettingsError as bad:
        for line in bad.problems:
            print(f"kefu: {line}", file=err)
        return 2
    if not settings.stats:
        print("KEFU_STATS is off: nothing is counted", file=out)
        return 0
    try:
        found = Container(settings=settings).stats_store().days(days)
    except KefuError as failure:
        print(escape_controls(f"kefu: {failure}"), file=err)
        return 2
    out.write("\n".join(day_tables(day) for day in found))
    return 0


def day_tables(day: DayStats) -> str:
    """One day: exact hits per rule, similar-question hits per rule, then the unmatched texts,
    most frequent first."""
    if not day.hits and not day.unmatched and not day.similar_hits:
        return f"{day.day}: nothing counted\n"
    hits = [(key, str(count)) for key, count in day.hits]
    texts = [(text, str(count)) for text, count in day.unmatched]
    parts = [f"{day.day}\n", table(("rule", "hits"), hits)]
    if day.similar_hits:
        similar = [(key, str(count)) for key, count in day.similar_hits]
        parts += ["\n", table(("rule (by a similar question)", "hits"), similar)]
    if texts:
        parts += ["\n", table(("unmatched text", "times"), texts)]
    return "".join(parts)


def days_argument(value: str) -> int:
    number = int(value)
    if not 1 <= number <= DAYS_KEPT:
        raise argparse.ArgumentTypeError(f"expected 1 to {DAYS_KEPT} (days kept)")
    return number


def add_stats_command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    env: Mapping[str, str] = os.environ,
) -> None:
    """Register `rules stats [--days N]` under the `rules` command's subcommands."""
    stats = commands.add_parser("stats", help=HELP, description=DESCRIPTION)
    stats.add_argument(
        "--days", type=days_argument, default=DAYS_KEPT, help=f"days to show (1-{DAYS_KEPT})"
    )
    stats.set_defaults(run=lambda args: show_stats(args.days, env))
