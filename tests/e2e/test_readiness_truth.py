"""Readiness under real gunicorn tells the truth about the disk: a read-only state folder, and a
queue file deleted while kefu runs, whose jobs are still all sent after a restart."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Iterator, Set
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from adapters.queue.stores import QUEUE_FILE
from tests.e2e.queue_rig import (
    kill_workers,
    queue_rig,
    wait_for_new_workers,
    wait_until_every_worker_holds,
)
from tests.e2e.test_readiness import status
from tests.e2e.test_reply_queue import kefu_cli
from tests.polling import wait_until


def readyz(url: str) -> tuple[int, dict[str, Any]]:
    answer = requests.get(f"{url}/readyz", timeout=10)
    return answer.status_code, answer.json()


@contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """folder read-only for every process, root's too: a read-only bind mount over itself.

    Made read-only beside it, then moved over it in one step: a bind mount made in place would
    be writable for a moment, and a file kefu opened through it then would keep the remount
    from making it read-only ("mount point is busy")."""
    staging = folder.with_name(f"{folder.name}.read-only")
    staging.mkdir()
    subprocess.run(["mount", "--bind", str(folder), str(staging)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(staging)], check=True)
        subprocess.run(["mount", "--move", str(staging), str(folder)], check=True)
    except BaseException:
        subprocess.run(["umount", str(staging)], check=False)
        raise
    try:
        yield
    finally:
        # Lazily: kefu's processes keep files they opened through the mount open meanwhile.
        subprocess.run(["umount", "--lazy", str(folder)], check=True)


def test_a_full_state_folder_fails_readiness_until_there_is_room_again(tmp_path):
    state = tmp_path / "state"
    with queue_rig(tmp_path) as rig, full_tmpfs(state) as fill:
        kefu = rig.kefu()
        assert wait_until(lambda: readyz(kefu.url)[0] == 200, timeout=15)
        fill()
        code, report = failing(kefu.url)
        checks = report["checks"]
        assert code == 503 and report["ready"] is False
        assert "database or disk is full" in checks["state_store"]["detail"]
        assert "database or disk is full" in checks["reply_queue"]["detail"]
        assert checks["queue_file"]["action"] == (
            f"make {state} writable (is the disk full, or read-only?)"
        )
        # Each worker probes on its own: poll until the one asked has.
        shown = wait_until(lambda: _failed(status({}, "--url", kefu.url)), timeout=15)
        assert shown is not None
        assert "  FAIL  queue file" in shown.stdout
        # A push still gets `success`; its worker then says no queue takes jobs.
        assert rig.push(kefu.url, "text", "o_full").text == "success"
        refusing = "no queue takes reply jobs, their replies are lost: reply queue unavailable"
        wait_until(
            lambda: readyz(kefu.url)[1]["checks"]["reply_queue"]["detail"].startswith(refusing)
        )
        (state / "filler").unlink()
        # Every worker, the one that refused the push too, and with no push to tell it so.
        assert wait_until(lambda: all(readyz(kefu.url)[0] == 200 for _ in range(10)), timeout=20)


def test_a_read_only_state_folder_fails_readiness_and_kefu_status(tmp_path):
    with queue_rig(tmp_path) as rig:
        kefu = rig.kefu()
        assert wait_until(lambda: readyz(kefu.url)[0] == 200, timeout=15)
        with read_only(tmp_path / "state"):
            # The queue's files opened before still take writes; the state store's do not.
            code, report = failing(kefu.url, {"state_store"})
            assert code == 503
            assert "Read-only file system" in report["checks"]["state_store"]["detail"]
            shown = status(rig.settings())  # a new process: it cannot even open the queue
            assert shown.returncode == 1
            assert shown.stdout.splitlines()[0] == "kefu is NOT ready"
            assert "  FAIL  reply queue   reply queue unavailable: " in shown.stdout
        wait_until(lambda: readyz(kefu.url)[0] == 200, timeout=15)


def test_workers_started_while_the_state_folder_is_read_only_serve_and_recover(tmp_path):
    """gunicorn stops the whole service when a new worker fails to start: a worker restarted
    on a read-only disk must start anyway, answer pushes and send once the disk is writable."""
    with queue_rig(tmp_path) as rig:
        kefu = rig.kefu()
        assert kefu.pid is not None
        with read_only(tmp_path / "state"):
            killed = kill_workers(kefu.pid)
            wait_for_new_workers(kefu.pid, killed, 2)
            code, report = failing(kefu.url, {"state_store", "reply_queue", "queue_file"})
            assert code == 503
            assert "Read-only file system" in report["checks"]["queue_file"]["detail"]
            assert rig.push(kefu.url, "text", "o_during").text == "success"
        assert wait_until(lambda: readyz(kefu.url)[0] == 200, timeout=15)
        assert rig.push(kefu.url, "text", "o_after").text == "success"
        assert wait_until(lambda: rig.sent_to("o_after"), timeout=15)
        assert "Worker failed to boot" not in rig.log()
        assert (tmp_path / "state" / QUEUE_FILE).stat().st_mode & 0o777 == 0o600


def _queue_detail(url: str) -> str:
    detail: str = readyz(url)[1]["checks"]["reply_queue"]["detail"]
    return detail


def failing(
    url: str, names: Set[str] = frozenset({"state_store", "reply_queue", "queue_file"})
) -> tuple[int, dict[str, Any]]:
    """/readyz's answer once the checks `names` all fail (within 15 s)."""
    found = wait_until(lambda: _failing(url, names), timeout=15)
    assert found is not None
    return found


def _failed(shown: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str] | None:
    return shown if shown.returncode == 1 else None


def _failing(url: str, names: Set[str]) -> tuple[int, dict[str, Any]] | None:
    code, report = readyz(url)
    failed = {name for name, check in report["checks"].items() if not check["ok"]}
    return (code, report) if names <= failed else None


@contextmanager
def full_tmpfs(folder: Path) -> Iterator[Callable[[], None]]:
    """folder on a small tmpfs of its own, and a way to fill it up."""
    folder.mkdir(mode=0o700)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(folder)])

    def fill() -> None:
        # Unbuffered: a buffered file would raise again on close, flushing what did not fit.
        with (folder / "filler").open("wb", buffering=0) as filler:
            try:
                while True:
                    filler.write(bytes(65536))
            except OSError:
                pass

    try:
        yield fill
    finally:
        subprocess.run(["umount", "--lazy", str(folder)], check=True)


def test_a_queue_file_deleted_while_kefu_runs_loses_no_reply_across_a_restart(tmp_path):
    with queue_rig(tmp_path) as rig:
        kefu = rig.kefu(KEFU_SENDERS="0")  # nothing sends: every job stays queued
        assert kefu.pid is not None
        wait_until_every_worker_holds(kefu.pid, 2, tmp_path / "state" / QUEUE_FILE)
        users = [f"o_deleted{n}" for n in range(12)]
        for user in users[:6]:
            assert rig.push(kefu.url, "text", user).text == "success"
        (tmp_path / "state" / QUEUE_FILE).unlink()
        for user in users[6:]:
            assert rig.push(kefu.url, "text", user).text == "success"
        code, report = readyz(kefu.url)
        assert code == 200, report
        assert report["checks"]["queue_file"]["detail"].endswith(
            "the file open before was deleted or replaced: 6 job(s) carried from it to this one"
        )
        assert report["checks"]["reply_queue"]["detail"].startswith("12 reply job(s) unfinished")
        kefu.stop()
        assert rig.state.sent == []
        rig.worker()  # a restart: the senders find every job in the file now at the path
        wait_until(lambda: all(rig.sent_to(user) for user in users), timeout=30)
        assert [len(rig.sent_to(user)) for user in users] == [1] * 12
        # Deleted, or already replaced by another process's new file when this one looked.
        assert re.search(r"was (deleted|replaced) while open: 6 unfinished job", rig.log())


def test_a_queue_file_corrupted_while_kefu_was_down_is_set_aside_and_its_jobs_sent(tmp_path):
    with queue_rig(tmp_path) as rig:
        kefu = rig.kefu(KEFU_SENDERS="0")
        users = [f"o_corrupt{n}" for n in range(40)]
        for user in users:
            assert rig.push(kefu.url, "text", user).text == "success"
        kefu.stop()
        queue_file = tmp_path / "state" / QUEUE_FILE
        with queue_file.open("r+b") as damaged:  # its last pages overwritten
            damaged.seek(queue_file.stat().st_size - 4096)
            damaged.write(b"\xff" * 4096)
        shown = kefu_cli(rig, "status")  # the first process to open it sets it aside
        assert shown.returncode == 1
        aside = sorted((tmp_path / "state").glob(f"{QUEUE_FILE}.corrupt-*"))[0]
        assert aside.stat().st_mode & 0o777 == 0o600
        read = re.search(rf"{aside.name} \((\d+) job\(s\) read\)", shown.stdout)
        assert read is not None and "  FAIL  queue file" in shown.stdout
        salvaged = int(read[1])
        assert 0 < salvaged <= 40  # rows on the damaged pages are lost, if any held rows
        listed = kefu_cli(rig, "dead-letters").stdout
        assert f"unreadable queue file set aside: {aside.name} ({salvaged} job(s) read)" in listed
        rig.worker()
        # Jobs whose task rows were on the damaged pages come back by the reaper, after the
        # queue's grace (30 s) and two passes.
        wait_until(lambda: sum(bool(rig.sent_to(user)) for user in users) == salvaged, timeout=60)
        assert max(len(rig.sent_to(user)) for user in users) == 1
