"""The reply queue's parts that live as long as a process: its storage and its sender threads."""

from __future__ import annotations

from collections.abc import Iterator

from adapters.queue.queue import HueyReplyQueue
from adapters.queue.reaper import Reaper
from adapters.queue.senders import SenderPool
from adapters.queue.stores import QueueStores, redis_stores, sqlite_stores
from entrypoints.service.settings import Settings

STOP_TIMEOUT = 8.0
"""Seconds running sends get to finish at exit, inside gunicorn's default 10 s graceful timeout."""


def open_queue_stores(settings: Settings) -> QueueStores:
    """Redis when several hosts share the work, else SQLite in KEFU_STATE_DIR; per AppID."""
    if settings.redis_url:
        return redis_stores(settings.redis_url, f"kefu:{settings.appid}:")
    return sqlite_stores(settings.state_dir, f"kefu-{settings.appid}")


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
