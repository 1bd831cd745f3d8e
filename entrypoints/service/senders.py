"""The reply queue's parts that live as long as a process: its storage and its sender threads."""

from __future__ import annotations

from collections.abc import Iterator

from adapters.queue.fallback import HeldMover, HeldQueue
from adapters.queue.ordering import UserLeases
from adapters.queue.queue import HueyReplyQueue, SendJob
from adapters.queue.reaper import Reaper
from adapters.queue.senders import SenderPool
from adapters.queue.stores import QueueStores, redis_stores, sqlite_stores
from entrypoints.service.settings import Settings

STOP_TIMEOUT = 8.0
"""Seconds running sends get to finish at exit, inside gunicorn's default 10 s graceful timeout."""


def open_queue_stores(settings: Settings) -> Iterator[QueueStores]:
    """Redis when several hosts share the work, else SQLite in KEFU_STATE_DIR; per AppID;
    closed at exit."""
    if settings.redis_url:
        stores = redis_stores(settings.redis_url, f"kefu:{settings.appid}:")
    else:
        stores = sqlite_stores(settings.state_dir, f"kefu-{settings.appid}")
    try:
        yield stores
    finally:
        stores.close()


def open_holding_queue(
    settings: Settings, send: SendJob, leases: UserLeases
) -> HueyReplyQueue | None:
    """With Redis, this host's own queue in KEFU_STATE_DIR for jobs Redis cannot take (its
    jobs move to Redis; nothing is sent from it)."""
    if not settings.redis_url:
        return None
    stores = sqlite_stores(settings.state_dir, f"kefu-{settings.appid}-held")
    return HueyReplyQueue(stores, send, leases)


def queue_to_submit(
    shared: HueyReplyQueue, holding: HueyReplyQueue | None
) -> HueyReplyQueue | HeldQueue:
    """Where pushes put their jobs: the shared queue, held on this host while it is down."""
    return shared if holding is None else HeldQueue(shared, holding)


def run_mover(queue: HueyReplyQueue | HeldQueue) -> Iterator[HeldMover | None]:
    """The thread that moves held jobs to the shared queue, while the process lives."""
    if not isinstance(queue, HeldQueue):
        yield None
        return
    mover = HeldMover(queue)
    mover.start()
    try:
        yield mover
    finally:
        mover.stop()


def run_senders(
    queue: HueyReplyQueue, reaper: Reaper, count: int, stop_timeout: float = STOP_TIMEOUT
) -> Iterator[SenderPool]:
    """`count` sender threads (none for 0) until shutdown, which lets running sends finish."""
    pool = SenderPool(queue, reaper, count)
    pool.start()
    try:
        yield pool
    finally:
        pool.stop(stop_timeout)
