"""The SQLite queue file deleted, replaced or corrupted: what was queued is carried or listed."""

from __future__ import annotations

import os
import random
import subprocess
import time
from pathlib import Path

import pytest

from adapters.queue.ordering import UserLeases
from adapters.queue.queue import HueyReplyQueue
from adapters.queue.reaper import Reaper
from adapters.queue.senders import SenderPool
from adapters.queue.stores import QUEUE_FILE, QueueStores, sqlite_stores
from adapters.queue.timings import QueueTimings
from adapters.queue.unreadable import set_aside
from adapters.state.memory import MemoryStateStore
from domain.delivery import DeliverReplies
from domain.errors import QueueUnavailable
from domain.jobs import ReplyJob
from domain.ledger import PushLedger
from domain.replies import TextReply
from domain.retry import RetryPolicy
from domain.sending import SendQueuedReplies
from entrypoints.service.queue_readiness import file_check, write_probe
from tests.fakes import FakeMediaIds, FakeMessenger
from tests.journal_entries import journal_entries
from tests.polling import wait_until

FAST = QueueTimings(lease=1.0, reap_every=0.2, grace=2.0, user_wait=0.2, requeue_delay=1.0)


def job(n: int) -> ReplyJob:
    return ReplyJob(f"msg:{n}", f"o_user{n}", (TextReply(f"reply {n}"),), (), int(time.time()))


def queue_on(stores: QueueStores, messenger: FakeMessenger | None = None) -> HueyReplyQueue:
    state = MemoryStateStore()
    deliver = DeliverReplies(
        FakeMediaIds(), messenger or FakeMessenger(), PushLedger(state), time.time
    )
    send = SendQueuedReplies(deliver, RetryPolicy(random.random, deadline=30.0), time.time)
    return HueyReplyQueue(stores, send, UserLeases(state), FAST)


def close(stores: QueueStores) -> None:
    stores.close()


def sent_texts(messenger: FakeMessenger) -> list[str]:
    return sorted(m.content for _, m in messenger.sent if isinstance(m, TextReply))


def test_a_queue_file_deleted_while_open_is_followed_and_its_jobs_are_sent_from_the_new_one(
    tmp_path: Path,
) -> None:
    queue = queue_on(sqlite_stores(tmp_path))
    for n in range(3):
        queue.submit(job(n))
    (tmp_path / QUEUE_FILE).unlink()
    queue.submit(job(3))  # goes to the file now at the path, after the three carried there

    followed = queue.stores.file.followed if queue.stores.file else None
    assert followed is not None and (followed.jobs, followed.deleted) == (3, True)
    assert (tmp_path / QUEUE_FILE).stat().st_mode & 0o777 == 0o600
    # The old file's -wal went aside: SQLite would have read it as the new file's own.
    assert len(list(tmp_path.glob(f"{QUEUE_FILE}.deleted-*-wal"))) == 1
    # A process started now (a restart) finds all four, and sends each once.
    messenger = FakeMessenger()
    restarted = queue_on(sqlite_stores(tmp_path), messenger)
    assert restarted.backlog().depth == 4
    pool = SenderPool(restarted, Reaper(restarted, MemoryStateStore()), 2)
    pool.start()
    try:
        wait_until(lambda: restarted.backlog().depth == 0, timeout=10)
    finally:
        pool.stop(5)
    assert sent_texts(messenger) == [f"reply {n}" for n in range(4)]


def test_every_process_on_the_deleted_file_follows_it_but_its_jobs_are_carried_once(
    tmp_path: Path,
) -> None:
    first, second = queue_on(sqlite_stores(tmp_path)), queue_on(sqlite_stores(tmp_path))
    for n in range(5):
        first.submit(job(n))
    (tmp_path / QUEUE_FILE).unlink()
    first.stores.follow_file()
    second.stores.follow_file()
    assert first.backlog().depth == second.backlog().depth == 5
    assert first.stores.tasks.storage.queue_size() == 5


def test_a_queue_file_replaced_while_open_gets_the_jobs_of_the_one_open(tmp_path: Path) -> None:
    queue = queue_on(sqlite_stores(tmp_path))
    queue.submit(job(1))
    other = tmp_path / "other"
    replacement = queue_on(sqlite_stores(other))
    replacement.submit(job(2))
    close(replacement.stores)  # the last connection checkpoints: the file holds its rows
    os.replace(other / QUEUE_FILE, tmp_path / QUEUE_FILE)
    followed = queue.stores.follow_file()
    assert followed is not None and (followed.jobs, followed.deleted) == (1, False)
    left = journal_entries(queue.journal).values()
    assert {entry.job.key for entry in left} == {"msg:1", "msg:2"}


def test_an_unreadable_queue_file_is_set_aside_at_start_and_readiness_names_it(
    tmp_path: Path,
) -> None:
    (tmp_path / QUEUE_FILE).write_bytes(b"not a database, " * 512)
    stores = sqlite_stores(tmp_path)
    queue = queue_on(stores)
    queue.submit(job(1))  # a fresh file takes jobs at once
    assert queue.backlog().depth == 1
    aside = set_aside(tmp_path / QUEUE_FILE)
    assert len(aside) == 1 and aside[0].stat().st_mode & 0o777 == 0o600
    check = file_check(stores, lambda: write_probe(stores))
    assert check.ok is False
    assert check.detail == f"unreadable queue file set aside: {aside[0].name} (0 job(s) read)"
    assert "then move it out of" in check.action
    aside[0].unlink()
    assert file_check(stores, lambda: write_probe(stores)).ok is True


def test_the_jobs_a_damaged_queue_file_still_gives_are_queued_again(tmp_path: Path) -> None:
    queue = queue_on(sqlite_stores(tmp_path))
    for n in range(40):
        queue.submit(job(n))
    path = tmp_path / QUEUE_FILE
    close(queue.stores)
    size = path.stat().st_size
    with path.open("r+b") as damaged:  # the last pages overwritten: quick_check fails
        damaged.seek(size - 4096)
        damaged.write(b"\xff" * 4096)
    restarted = queue_on(sqlite_stores(tmp_path))
    queue_file = restarted.stores.file
    assert queue_file is not None
    aside = set_aside(queue_file.path)
    assert len(aside) == 1
    assert 0 < queue_file.salvaged(aside[0]) == restarted.backlog().depth < 40


def test_a_deleted_file_that_cannot_be_followed_yet_is_followed_once_the_folder_is_writable(
    tmp_path: Path,
) -> None:
    queue = queue_on(sqlite_stores(tmp_path))
    for n in range(3):
        queue.submit(job(n))
    (tmp_path / QUEUE_FILE).unlink()
    subprocess.run(["mount", "--bind", str(tmp_path), str(tmp_path)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(tmp_path)], check=True)
        with pytest.raises(QueueUnavailable, match="Read-only file system"):
            queue.submit(job(3))
    finally:
        subprocess.run(["umount", "--lazy", str(tmp_path)], check=True)
    followed = queue.stores.follow_file()
    assert followed is not None and followed.jobs == 3
    assert queue_on(sqlite_stores(tmp_path)).backlog().depth == 3
