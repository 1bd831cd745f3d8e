"""The chaos soak: mixed traffic against kefu under gunicorn, Redis and a `kefu worker`, with
faults injected at random (seeded), then a drain, then what became of every push."""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from adapters.queue.timings import QueueTimings
from entrypoints.sandbox.records import Media
from tests.chaos.faults import Injected, Injector, plan
from tests.chaos.tally import Fate, cause_table, fates, timeline_table
from tests.chaos.traffic import Push, Traffic, acked, rules_document, write_images
from tests.chaos.watch import Calls, DeadLetters, Sample, log_lines, part_of, queue_depth, rss_mb
from tests.e2e.queue_rig import queue_rig
from tests.redis_server import OwnRedis

CALLS_EVERY = 0.5
LETTERS_EVERY = 10.0
SETTLE = 3.0
"""Seconds to wait once every push is settled: a duplicate would come within them."""


@dataclass(frozen=True)
class Soak:
    pushes: list[Push]
    fates: list[Fate]
    injected: list[Injected]
    samples: list[Sample]
    report: str

    def count(self, what: Callable[[Fate], int | bool]) -> int:
        return sum(int(what(fate)) for fate in self.fates)


def run_soak(
    folder: Path,
    duration: float,
    seed: int,
    rate: float = 6.0,
    sample_every: float = 3.0,
    drain: float = 60.0,
) -> Soak:
    # Redis with its append-only file, as a production queue store runs: a restart keeps the
    # jobs it acknowledged. (Without it a restart empties the queue, and no client can tell.)
    (folder / "redis").mkdir(parents=True)
    redis = OwnRedis("--appendonly", "yes", "--dir", str(folder / "redis"))
    redis.start()
    with queue_rig(folder, KEFU_REDIS_URL=redis.url) as rig:
        rig.stack.callback(redis.kill)
        rules = json.dumps(rules_document(), ensure_ascii=False)
        (folder / "rules.json").write_text(rules, encoding="utf-8")
        write_images(folder / "media" / "cms")
        kefu = rig.kefu("kefu", workers=2)
        assert kefu.pid is not None
        injector = Injector(rig, kefu.pid, redis, rig.worker("worker1"), seed)
        traffic = Traffic(kefu.url, rig.simulator, rate)
        calls, letters = Calls(rig.state), DeadLetters(rig.settings)
        start = time.monotonic() + 0.5
        failures: list[BaseException] = []
        threads = [
            _thread(failures, traffic.run, start + duration),
            _thread(failures, injector.run, plan(duration, seed), start),
        ]

        def sample() -> Sample:
            return Sample(
                time.monotonic(),
                len(acked(traffic.pushes)),
                _outstanding(traffic.pushes, calls, letters, rig.state.media),
                queue_depth(kefu.metrics_url),
                rss_mb(kefu.pid or 0, [injector.worker_pid()]),
                log_lines(folder),
            )

        listing = threading.Event()
        threads.append(_thread(failures, _list_until, letters, listing))
        samples = [sample()]
        next_sample = time.monotonic()
        while any(thread.is_alive() for thread in threads[:2]):
            calls.poll()
            if time.monotonic() >= next_sample:
                samples.append(sample())
                next_sample += sample_every
            time.sleep(CALLS_EVERY)
        listing.set()
        threads[2].join()
        if failures:
            raise failures[0]
        drained_by = time.monotonic() + drain
        while time.monotonic() < drained_by:
            calls.poll()
            letters.poll()
            if _outstanding(traffic.pushes, calls, letters, rig.state.media) == 0:
                break
            time.sleep(CALLS_EVERY)
        time.sleep(SETTLE)
        calls.poll()
        letters.poll()
        samples.append(sample())
        media = {m.media_id: m.filename for m in rig.state.media}
        every_fate = fates(traffic.pushes, calls.sends(), media, letters, injector.injected)
        untaken = rig.state.faults
        rig.state.clear_faults()
    _keep_record(folder / "chaos.json", every_fate, calls, media, injector.injected, start)
    report = _report(traffic, every_fate, injector, samples, start, duration, seed, len(untaken))
    unsettled = sum(fate.lost for fate in every_fate)
    depth = samples[-1].queue_depth
    still = "unknown" if depth is None else f"{depth:.0f}"
    report += (
        f"lost: acked, and after a drain of up to {drain:.0f} s neither delivered whole nor listed "
        f"by kefu dead-letters ({unsettled}; kefu's queue depth then: {still}). A job whose task "
        f"was dropped waits for the reaper's grace ({QueueTimings().grace:.0f} s), so a drain "
        f"shorter than that counts it lost while kefu still holds it.\n"
    )
    return Soak(traffic.pushes, every_fate, injector.injected, samples, report)


def _keep_record(
    path: Path,
    every_fate: list[Fate],
    calls: Calls,
    media: dict[str, str],
    injected: list[Injected],
    start: float,
) -> None:
    """Everything the tally came from, for whoever looks into a failure (times from the start)."""
    record = {
        "pushes": [
            {
                "msg_id": f.push.msg_id,
                "user": f.push.user,
                "index": f.push.index,
                "keyword": f.push.keyword,
                "acked": f.push.acked_at and f.push.acked_at - start,
                "attempts": [(at - start, took, outcome) for at, took, outcome in f.push.attempts],
                "delivered": {":".join(part): n for part, n in f.delivered.items()},
                "listed": f.listed_at and f.listed_at - start,
                "uncertain": f.uncertain,
                "out_of_order": f.out_of_order,
                "causes": sorted(f.causes),
            }
            for f in every_fate
        ],
        "sends": [
            (at - start, call.body.get("touser"), part_of(call.body, media), call.errcode)
            for at, call in calls.sends()
        ],
        "faults": [(f.cause, f.amount, f.started - start, f.ended - start) for f in injected],
    }
    path.write_text(json.dumps(record, indent=1), encoding="utf-8")


def _list_until(letters: DeadLetters, stop: threading.Event) -> None:
    """Poll `kefu dead-letters` every LETTERS_EVERY s (a process of its own) until stop."""
    while not stop.wait(LETTERS_EVERY):
        letters.poll()


def _thread(
    failures: list[BaseException], target: Callable[..., None], *args: object
) -> threading.Thread:
    def run() -> None:
        try:
            target(*args)
        except BaseException as failure:  # surfaced by the main thread, never lost
            failures.append(failure)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _outstanding(
    pushes: list[Push], calls: Calls, letters: DeadLetters, media_list: Sequence[Media]
) -> int:
    """Acked pushes with a part not delivered yet and not listed as a dead letter."""
    media = {m.media_id: m.filename for m in media_list}
    delivered = set()
    for _, call in calls.sends():
        if call.errcode == 0:
            delivered.add((str(call.body.get("touser")), part_of(call.body, media)))
    return sum(
        1
        for push in acked(pushes)
        if push.msg_id not in letters.first_seen
        and not all((push.user, part) in delivered for part in push.parts)
    )


def _report(
    traffic: Traffic,
    every_fate: list[Fate],
    injector: Injector,
    samples: list[Sample],
    start: float,
    duration: float,
    seed: int,
    untaken: int,
) -> str:
    pushes = traffic.pushes
    acks = [
        seconds for push in pushes for _, seconds, outcome in push.attempts if outcome == "success"
    ]
    retried = [push for push in pushes if len(push.attempts) > 1]
    ordered = sorted(acks) or [0.0]
    lines = [
        f"chaos soak: {duration:.0f} s, seed {seed}, {traffic.lanes / traffic.interval:.1f} "
        f"pushes/s offered, {len(pushes)} pushes from {len({p.user for p in pushes})} users",
        f"acked success: {len(acked(pushes))}/{len(pushes)}; pushes WeChat had to post again: "
        f"{len(retried)}; ack p50 {statistics.median(ordered) * 1000:.0f} ms, p99 "
        f"{ordered[int(0.99 * (len(ordered) - 1))] * 1000:.0f} ms, max {ordered[-1] * 1000:.0f} ms",
        f"faults injected: {len(injector.injected)} ({untaken} never met a call); "
        f"kefu workers started: {injector.workers_started}",
        "",
        cause_table(every_fate, injector.injected),
        timeline_table(samples, start),
    ]
    return "\n".join(lines)
