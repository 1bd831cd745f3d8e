"""What became of each push of the chaos soak, counted per injected cause, as a table."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from entrypoints.cli.columns import table
from entrypoints.sandbox.records import Call
from tests.chaos.faults import CAUSES, ERRCODE_BUSY, ERRCODE_LIMIT, REDIS_RESTART, Injected
from tests.chaos.traffic import Part, Push
from tests.chaos.watch import DeadLetters, Sample, part_of

_EXACT = {-1: ERRCODE_BUSY, 45009: ERRCODE_LIMIT}
"""Errcodes the sandbox answered a send with: the send they hit names the push."""


@dataclass
class Fate:
    push: Push
    delivered: dict[Part, int] = field(default_factory=dict)
    delivered_at: float | None = None
    out_of_order: bool = False
    refused: bool = False
    """WeChat refused one of its sends (-1, 45009): the reply then waited for a retry."""
    causes: set[str] = field(default_factory=set)
    listed_at: float | None = None
    uncertain: bool = False

    @property
    def complete(self) -> bool:
        return all(self.delivered.get(part, 0) for part in self.push.parts)

    @property
    def lost(self) -> bool:
        """Acked, yet neither delivered whole nor listed for an operator."""
        return not self.complete and self.listed_at is None

    @property
    def excused(self) -> bool:
        """A reply waiting for a retry holds up no later one (adapters/queue/queue.py
        _turn_comes), and an uncertain send may land after the user's next replies: either
        may be overtaken. A reply outstanding while Redis was down, or before a process's store
        guard saw it back, waited for a retry too: kefu sends nothing the state store cannot
        record (domain/delivery.py). Counted, not failed on."""
        return self.refused or self.uncertain or REDIS_RESTART in self.causes

    @property
    def overtaken_unexplained(self) -> bool:
        """Delivered after a later push's reply, neither behind a retry nor uncertain."""
        return self.out_of_order and not self.excused

    @property
    def duplicates(self) -> int:
        return sum(count - 1 for count in self.delivered.values() if count > 1)

    @property
    def settled_at(self) -> float | None:
        times = [at for at in (self.delivered_at, self.listed_at) if at is not None]
        return min(times) if times and (self.complete or self.listed_at) else None


def fates(
    pushes: Sequence[Push],
    sends: Sequence[tuple[float, Call]],
    media: Mapping[str, str],
    letters: DeadLetters,
    injected: Sequence[Injected],
) -> list[Fate]:
    """The fate of every acked push, with the causes it met."""
    acked = [Fate(push) for push in pushes if push.acked_at is not None]
    by_part = {(f.push.user, part): f for f in acked for part in f.push.parts}
    latest: dict[str, int] = defaultdict(lambda: -1)
    for at, call in sends:
        part = part_of(call.body, media)
        fate = by_part.get((str(call.body.get("touser")), part)) if part else None
        if fate is None or part is None:
            continue
        if call.errcode in _EXACT:
            fate.causes.add(_EXACT[call.errcode])
        if call.errcode != 0:
            fate.refused = True
            continue
        first = part not in fate.delivered
        fate.delivered[part] = fate.delivered.get(part, 0) + 1
        if first:
            fate.out_of_order |= fate.push.index < latest[fate.push.user]
            latest[fate.push.user] = max(latest[fate.push.user], fate.push.index)
            if fate.complete:
                fate.delivered_at = at
    for fate in acked:
        fate.listed_at = letters.first_seen.get(fate.push.msg_id)
        fate.uncertain = fate.push.msg_id in letters.uncertain
        for fault in injected:
            if fault.cause not in _EXACT.values() and _overlaps(fate, fault):
                fate.causes.add(fault.cause)
    return acked


def _overlaps(fate: Fate, fault: Injected) -> bool:
    """The push's reply was waiting (acked, not yet settled) while the fault was in force."""
    assert fate.push.acked_at is not None
    settled = fate.settled_at
    return fate.push.acked_at <= fault.ended and (settled is None or settled >= fault.started)


HEADER = (
    "cause",
    "events",
    "exposed",
    "lost",
    "duplicated",
    "uncertain",
    "out of order",
    "of which behind a retry or uncertain",
    "wechat retries",
)


def cause_table(all_fates: Sequence[Fate], injected: Sequence[Injected]) -> str:
    rows = []
    groups = [(c, [f for f in all_fates if c in f.causes]) for c in CAUSES]
    groups += [("none nearby", [f for f in all_fates if not f.causes]), ("all", list(all_fates))]
    for cause, group in groups:
        events = sum(1 for fault in injected if fault.cause == cause)
        shown = str(events) if cause in CAUSES else str(len(injected)) if cause == "all" else "-"
        rows.append(
            (
                cause,
                shown,
                str(len(group)),
                str(sum(f.lost for f in group)),
                str(sum(f.duplicates for f in group)),
                str(sum(f.uncertain for f in group)),
                str(sum(f.out_of_order for f in group)),
                str(sum(f.out_of_order and f.excused for f in group)),
                str(sum(len(f.push.attempts) - 1 for f in group)),
            )
        )
    return table(HEADER, rows)


def timeline_table(samples: Sequence[Sample], start: float) -> str:
    header = ("t (s)", "acked", "outstanding", "queue depth", "RSS (MiB)", "log lines")
    rows = [
        (
            f"{s.at - start:.0f}",
            str(s.acked),
            str(s.outstanding),
            "-" if s.queue_depth is None else f"{s.queue_depth:.0f}",
            f"{s.rss_mb:.0f}",
            str(s.log_lines),
        )
        for s in samples
    ]
    return table(header, rows)
