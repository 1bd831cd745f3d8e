"""kefu as deployed against what it replaces, as ratios measured in one run (`make bench`).

- verify + decrypt of one push, kefu's key ring against wechatpy's primitives (goal <= 0.6);
- pushes that match nothing, under wrk -t2 -c16: kefu with its own config and defaults (sender
  threads, metrics, statistics on) against a bare Falcon app (goal >= 0.9) and a wechatpy
  handler (goal >= 1.0) under the same gunicorn config; server CPU per push;
- pushes that queue a reply (claim, enqueue, the senders sending to an instant sandbox while
  the load runs) against the same two (goal >= 0.8 of the wechatpy handler), and against the
  wechatpy handler that also sends each answer from a thread pool; and the ceiling of that
  goal here: the sandbox runs on the same two CPUs, so every answer costs the machine at least
  the sandbox's CPU for it, whatever the server does;
- with no traffic, kefu's processes together (goal < 1 % of a core); RSS per worker after each of
  kefu's runs, and its growth from the end of the first round to the end of the last, over
  20,000 pushes or more (goal: flat).

Rounds alternate between the servers, so that a load elsewhere on the machine weighs on all
alike; the medians of the rounds are compared. The machine's load average is printed with them.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import time
import timeit
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import requests

from adapters.wechat_push.crypto import AesMessageCrypto, signature
from adapters.wechat_push.fields import PushFormat
from adapters.wechat_push.keyring import KeyRing
from entrypoints.cli.push_simulator import Mode
from tests.bench.baselines import (
    BARE_FALCON,
    WECHATPY_HANDLER,
    WECHATPY_REPLYING,
    baseline,
    cpu_seconds,
)
from tests.e2e.conftest import AES_KEY, APPID, TOKEN
from tests.e2e.queue_rig import QueueRig, queue_rig
from tests.e2e.servers import resident_mib, workers_of
from tests.polling import wait_until

LUA = Path(__file__).with_name("pushes.lua")
ROUNDS = 3
SECONDS = 8
FLAT_OVER = 20_000
"""RSS per worker is shown flat, or not, over at least this many of kefu's pushes."""
THREADS, CONNECTIONS = 2, 16
# More than wrk sends in a round, so every push of a round is a new one.
PUSHES_PER_ROUND = 100_000
# Replies only for the keyword: a push matching nothing is acked and counted, nothing more.
RULES = {"text": {"type": "text", "text": "文字回复"}}


def test_verify_and_decrypt_against_wechatpy() -> None:
    from wechatpy.crypto import WeChatCrypto

    body = json.dumps(
        {
            "ToUserName": "gh_bench",
            "FromUserName": "o" * 28,
            "CreateTime": int(time.time()),
            "MsgType": "text",
            "Content": "你好，我想下载 App",
            "MsgId": 24_000_000_000_000_001,
        },
        ensure_ascii=False,
    )
    encrypt = AesMessageCrypto(TOKEN, AES_KEY, APPID).encrypt(body)
    timestamp, nonce = str(int(time.time())), "1234567890"
    msg_signature = signature(TOKEN, timestamp, nonce, encrypt)
    ring, theirs = KeyRing(TOKEN, AES_KEY, APPID), WeChatCrypto(TOKEN, AES_KEY, APPID)

    def kefu() -> str:
        return ring.open(msg_signature, timestamp, nonce, encrypt).text

    def wechatpy() -> str:
        text: str = theirs.decrypt_message({"Encrypt": encrypt}, msg_signature, timestamp, nonce)
        return text

    assert kefu() == wechatpy() == body
    ours, baseline_ = [], []
    for _ in range(5):  # alternating, the best of each
        ours.append(per_call(kefu))
        baseline_.append(per_call(wechatpy))
    print(
        f"\nverify + decrypt of one push: kefu {min(ours) * 1e6:.2f} µs,"
        f" wechatpy {min(baseline_) * 1e6:.2f} µs,"
        f" ratio {min(ours) / min(baseline_):.2f} (goal <= 0.6); {load()}"
    )


def per_call(call: Callable[[], object], number: int = 20_000) -> float:
    return min(timeit.repeat(call, number=number, repeat=3)) / number


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs"


def push_file(rig: QueueRig, folder: Path, name: str, content: str, first: int) -> Path:
    """PUSHES_PER_ROUND genuine safe-mode pushes, each from its own user, one per line."""
    simulator = rig.simulator
    path = folder / f"{name}.pushes"
    with path.open("w", encoding="utf-8") as lines:
        for n in range(first, first + PUSHES_PER_ROUND):
            fields = simulator.text(content, f"o_bench{n}", msg_id=n)
            push = simulator.build(fields, PushFormat.JSON, Mode.SAFE)
            query = urlencode(push.params)
            lines.write(f"/wechat/callback?{query}\t{push.body.decode()}\n")
    return path


def wrk(url: str, pushes: Path) -> tuple[float, int]:
    """Requests per second wrk reached, and how many it sent."""
    done = subprocess.run(
        [
            "wrk",
            f"-t{THREADS}",
            f"-c{CONNECTIONS}",
            f"-d{SECONDS}s",
            "-s",
            str(LUA),
            url,
            "--",
            str(pushes),
            str(THREADS),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "Non-2xx" not in done.stdout and "Socket errors" not in done.stdout, done.stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", done.stdout)
    sent = re.search(r"(\d+) requests in", done.stdout)
    assert rate is not None and sent is not None, done.stdout
    assert int(sent[1]) < PUSHES_PER_ROUND, "a push was sent twice: make more of them"
    return float(rate[1]), int(sent[1])


@dataclass(frozen=True)
class Run:
    """One wrk run against one server."""

    rate: float  # pushes per second
    server_cpu: float  # milliseconds of the server's processes per push
    sent: int
    machine_cpu: float  # milliseconds of every CPU's busy time per push: wrk, server, sandbox
    busy: float  # the share of the machine's CPUs busy during the run


def measured(url: str, master: int, pushes: Path) -> Run:
    cpu, machine, started = cpu_seconds(master), busy_seconds(), time.monotonic()
    rate, sent = wrk(url, pushes)
    used = busy_seconds() - machine
    share = used / ((time.monotonic() - started) * (os.cpu_count() or 1))
    return Run(rate, (cpu_seconds(master) - cpu) * 1e3 / sent, sent, used * 1e3 / sent, share)


def busy_seconds() -> float:
    """CPU seconds every CPU of the machine has spent busy so far (/proc/stat)."""
    fields = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle and iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def sandbox_cost(rig: QueueRig, answers: int, cpu: float) -> float:
    """The sandbox's CPU milliseconds per answer since this process had used `cpu` seconds and
    the sandbox had taken `answers` (it runs in this process, which otherwise waits)."""
    return (time.process_time() - cpu) * 1e3 / max(1, len(rig.state.sent) - answers)


def test_ack_path_as_deployed_against_bare_falcon_and_a_wechatpy_handler(tmp_path: Path) -> None:
    figures: dict[str, list[Run]] = {}
    sandbox: list[float] = []
    with queue_rig(tmp_path) as rig:
        (tmp_path / "rules.json").write_text(json.dumps(RULES, ensure_ascii=False), "utf-8")
        settings = rig.settings()
        kefu = rig.kefu()  # as deployed: its defaults
        assert kefu.pid is not None
        bare = rig.stack.enter_context(baseline(BARE_FALCON, tmp_path, settings))
        handler = rig.stack.enter_context(baseline(WECHATPY_HANDLER, tmp_path, settings))
        replying = rig.stack.enter_context(baseline(WECHATPY_REPLYING, tmp_path, settings))
        servers = {"bare": bare, "wechatpy": handler, "kefu": (kefu.url, kefu.pid)}
        # Only a keyword is answered: matching nothing, it is the wechatpy handler again.
        replying_too = {**servers, "wechatpy+send": replying}
        workers = workers_of(kefu.pid)
        rss_seen: list[tuple[int, dict[int, Resident]]] = [(0, memory(workers))]
        first = 1
        for round_ in range(ROUNDS):
            for kind, content in (("nothing", "随便问问"), ("keyword", "text")):
                for name, (url, master) in (servers if kind == "nothing" else replying_too).items():
                    pushes = push_file(rig, tmp_path, f"{name}-{kind}", content, first)
                    first += PUSHES_PER_ROUND
                    if round_ == 0 and kind == "nothing":
                        wrk(url, pushes)  # warm up, on pushes of their own
                        pushes = push_file(rig, tmp_path, f"{name}-{kind}", content, first)
                        first += PUSHES_PER_ROUND
                    already_sent, own_cpu = len(rig.state.sent), time.process_time()
                    figures.setdefault(f"{name} {kind}", []).append(measured(url, master, pushes))
                    if name == "kefu":  # its senders must not weigh on the next server's run
                        drained(kefu.url)
                        done = rss_seen[-1][0] + figures[f"kefu {kind}"][-1].sent
                        rss_seen.append((done, memory(workers)))
                    if name == "wechatpy+send":
                        answered(rig, already_sent + figures[f"{name} {kind}"][-1].sent)
                    if kind == "keyword" and name in ("kefu", "wechatpy+send"):
                        sandbox.append(sandbox_cost(rig, already_sent, own_cpu))
        assert len(rig.state.sent) >= sum(run.sent for run in figures["kefu keyword"])
        idle = idle_share(kefu.pid)
    report(figures)
    ceiling(figures, statistics.median(sandbox))
    print(f"kefu idle: {idle * 100:.2f} % of a core, all its processes (goal < 1 %)")
    print_memory(rss_seen)
    print(load())


Resident = tuple[float, float]
"""A worker's RSS and the anonymous part of it (heap, stacks), in MiB."""


def memory(workers: list[int]) -> dict[int, Resident]:
    """Each worker's RSS; a worker gone (restarted) is left out."""
    return {
        pid: (resident_mib(pid), resident_mib(pid, "RssAnon"))
        for pid in workers
        if Path(f"/proc/{pid}").exists()
    }


def print_memory(seen: list[tuple[int, dict[int, Resident]]]) -> None:
    """RSS per worker after each of kefu's runs, and its growth from the end of the first round
    to the end of the last. Like is compared with like: a round ends with the same kind of run
    (its keyword run leaves the senders' buffers larger than a run that queues nothing), and the
    first round fills SQLite's page caches and the interpreter's pools. The anonymous part
    leaves out file pages (SQLite maps its files), which grow with the state file, not with a
    leak, and which the kernel can drop."""
    print(
        "kefu workers' RSS (anonymous part) in MiB after each run of kefu's:"
        " pushes so far, then each worker"
    )
    for pushed, rss in seen:
        each = (f"{total:.0f} ({anonymous:.0f})" for _, (total, anonymous) in sorted(rss.items()))
        print(f"  {pushed:>7}  " + "  ".join(each))
    runs = (len(seen) - 1) // ROUNDS  # kefu's runs in a round
    (start, first), (end, last) = seen[runs], seen[-1]
    growth = [
        f"{last[pid][0] - first[pid][0]:+.1f} ({last[pid][1] - first[pid][1]:+.1f})"
        for pid in last
        if pid in first
    ]
    shown = ", ".join(growth) or "workers restarted"
    enough = "" if end - start >= FLAT_OVER else f" (fewer than {FLAT_OVER}: too few to tell)"
    print(
        f"RSS growth per worker from the end of round 1 to the end of round {ROUNDS},"
        f" over {end - start} pushes{enough}: {shown} MiB (goal: flat)"
    )


def drained(url: str) -> None:
    """Once every reply job queued is done (the senders have sent the replies)."""

    def empty() -> bool:
        checks = requests.get(f"{url}/readyz", timeout=10).json()["checks"]
        detail: str = checks["reply_queue"]["detail"]
        return detail.startswith("0 reply job(s)")

    assert wait_until(empty, timeout=600, interval=0.5)


def answered(rig: QueueRig, count: int) -> None:
    """Once the sandbox has taken `count` answers in all: a thread pool's sends are done."""
    assert wait_until(lambda: len(rig.state.sent) >= count, timeout=600, interval=0.5)


def idle_share(master: int, seconds: float = 20.0) -> float:
    """The share of one core kefu's processes use with no traffic (the queue drained)."""
    time.sleep(2)
    cpu = cpu_seconds(master)
    time.sleep(seconds)
    return (cpu_seconds(master) - cpu) / seconds


def median(figures: dict[str, list[Run]], figure: Callable[[Run], float]) -> dict[str, float]:
    return {name: statistics.median(figure(run) for run in runs) for name, runs in figures.items()}


def report(figures: dict[str, list[Run]]) -> None:
    rate, cpu = median(figures, lambda run: run.rate), median(figures, lambda run: run.server_cpu)
    machine, busy = median(figures, lambda run: run.machine_cpu), median(figures, lambda r: r.busy)
    print(f"\nmedians of {ROUNDS} alternating rounds, wrk -t{THREADS} -c{CONNECTIONS} {SECONDS} s:")
    for name in figures:
        print(
            f"  {name:21s} {rate[name]:7.0f} pushes/s, server CPU {cpu[name]:.3f} ms/push,"
            f" machine {machine[name]:.3f} ms/push ({busy[name] * 100:.0f} % busy)"
        )
    for kind, goals in (("nothing", (1.0, 0.9)), ("keyword", (0.8, None))):
        ours = rate[f"kefu {kind}"]
        versus_wechatpy = ours / rate[f"wechatpy {kind}"]
        versus_bare = ours / rate[f"bare {kind}"]
        bare_goal = f" (goal >= {goals[1]})" if goals[1] else ""
        print(
            f"pushes matching {kind}: kefu/wechatpy {versus_wechatpy:.2f} (goal >= {goals[0]}),"
            f" kefu/bare {versus_bare:.2f}{bare_goal};"
            f" CPU per push kefu/wechatpy {cpu[f'kefu {kind}'] / cpu[f'wechatpy {kind}']:.2f}"
        )
    sending = rate["wechatpy+send keyword"]
    print(
        f"pushes matching keyword: kefu/(wechatpy+send) {rate['kefu keyword'] / sending:.2f},"
        f" (wechatpy+send)/wechatpy {sending / rate['wechatpy keyword']:.2f}"
    )


def ceiling(figures: dict[str, list[Run]], sandbox: float) -> None:
    """The most a server that sends each answer can reach against the wechatpy handler here.

    With the machine's CPUs busy, a server's rate is what the CPUs give over what a push costs
    them. One that answers costs them at least what the handler that sends nothing costs (its
    own push, wrk's share) plus the sandbox taking the answer, even were its sending free.
    """
    handler = statistics.median(run.machine_cpu for run in figures["wechatpy keyword"])
    print(
        f"the sandbox took {sandbox:.3f} ms of CPU per answer on the machine's CPUs, the wechatpy"
        f" handler's push {handler:.3f} ms: a server that sends each answer reaches at most"
        f" {handler / (handler + sandbox):.2f} of it here (the goal: 0.8)"
    )
