"""The huey instances the reply queue lives in: SQLite on one host, Redis for many."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from huey import Huey
from huey.api import Task
from huey.storage import RedisStorage, SqliteStorage

from adapters.queue.serializer import QueueSerializer
from adapters.state.private import private_file, private_folder
from domain.errors import QueueUnavailable

QUEUE_FILE = "replies.db"
# A socket timeout well above huey's 1 s blocking read, so a dead Redis fails a call in seconds.
REDIS_TIMEOUT = 5.0


class WalSqliteStorage(SqliteStorage):  # type: ignore[misc]
    """huey's SQLite storage in WAL mode with synchronous=NORMAL, as diskcache keeps the state.

    A committed job survives any crash of kefu's processes (SIGKILL, OOM); only an operating
    system crash or power loss may lose the last few commits, never corrupt the file. huey
    offers FULL (an fsync per commit, which halves the ack path's speed) or OFF (which risks
    corruption on power loss); NORMAL is SQLite's recommendation for WAL.
    """

    def _create_connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection = super()._create_connection()
        connection.execute("pragma synchronous=NORMAL")
        return connection


class PrefixedRedisStorage(RedisStorage):  # type: ignore[misc]
    """huey's Redis storage with every key under its name (``kefu:<AppID>:queue:...``) instead
    of ``huey.*``, so a Redis ACL that limits kefu to ``kefu:*`` covers the queue too."""

    def __init__(self, name: str, **options: Any) -> None:
        super().__init__(name, clean_name=False, **options)
        self.queue_key = f"{self.name}:tasks"
        self.schedule_key = f"{self.name}:schedule"
        self.result_key = f"{self.name}:values"
        self.counter_key = f"{self.name}:counters"
        self.notify_prefix = f"{self.name}:notify:"


@dataclass(frozen=True)
class QueueStores:
    """Three huey instances on one storage: the task queue and schedule (`tasks`), and two
    key-value namespaces, the lease journal (`journal`) and the dead letters (`dead`)."""

    tasks: Huey
    journal: Huey
    dead: Huey

    def journal_and_enqueue(self, key: str, entry: object, task: Task) -> None:
        """Write the journal entry and enqueue the task as one step: both or neither.

        One SQLite transaction (or one Redis MULTI) instead of two: no job is ever journalled
        but not queued, and a push costs one write less. The statements are huey's own
        `put_data` and `enqueue`, aimed at the two namespaces of the one storage.
        """
        value = self.journal.serializer.serialize(entry)
        data = self.tasks.serialize_task(task)
        storage, journal = self.tasks.storage, self.journal.storage
        with queue_errors():
            if isinstance(storage, SqliteStorage) and isinstance(journal, SqliteStorage):
                with storage.db(commit=True) as cursor:
                    cursor.execute(
                        "insert or replace into kv (queue, key, value) values (?, ?, ?)",
                        (journal.name, key, storage.to_blob(value)),
                    )
                    cursor.execute(
                        "insert into task (queue, data, priority) values (?, ?, ?)",
                        (storage.name, storage.to_blob(data), 0),
                    )
            elif isinstance(storage, RedisStorage) and isinstance(journal, RedisStorage):
                pipeline = storage.conn.pipeline(transaction=True)
                pipeline.hset(journal.result_key, key, value)
                pipeline.lpush(storage.queue_key, data)
                pipeline.execute()
            else:  # huey's memory storage, in tests: nothing to make atomic
                self.journal.put(key, entry)
                self.tasks.enqueue(task)


def sqlite_stores(state_dir: Path, prefix: str = "kefu") -> QueueStores:
    """SQLite in KEFU_STATE_DIR, shared by every process on this host; private to kefu's user
    like the rest of the state (the jobs name users and what they are sent)."""
    filename = str(private_file(private_folder(Path(state_dir)) / QUEUE_FILE))

    def make(name: str) -> Huey:
        return Huey(
            f"{prefix}-{name}",
            storage_class=WalSqliteStorage,
            filename=filename,
            results=False,
            serializer=QueueSerializer(),
        )

    return QueueStores(make("replies"), make("journal"), make("dead"))


def redis_stores(url: str, prefix: str = "kefu:") -> QueueStores:
    """Redis on KEFU_REDIS_URL, shared by every host that points at it; keys under `prefix`."""
    pool = redis.ConnectionPool.from_url(
        url, socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT
    )

    def make(name: str) -> Huey:
        return Huey(
            f"{prefix}queue:{name}",
            storage_class=PrefixedRedisStorage,
            connection_pool=pool,
            results=False,
            serializer=QueueSerializer(),
        )

    return QueueStores(make("replies"), make("journal"), make("dead"))


@contextmanager
def queue_errors() -> Iterator[None]:
    """Whatever the storage raises becomes QueueUnavailable, the one error callers handle."""
    try:
        yield
    except (OSError, sqlite3.Error, redis.RedisError) as error:
        raise QueueUnavailable(
            f"reply queue unavailable: {type(error).__name__}: {error}"
        ) from error
