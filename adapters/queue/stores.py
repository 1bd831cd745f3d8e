"""The huey instances the reply queue lives in: SQLite on one host, Redis for many."""

from __future__ import annotations

import datetime
import logging
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
from huey import Huey
from huey.api import Task
from huey.storage import RedisStorage, SqliteStorage

from adapters.queue.clock import SteadyClock
from adapters.queue.queue_file import Followed, QueueFile
from adapters.queue.serializer import QueueSerializer
from adapters.state.stored import StoredValues, storable
from domain.errors import QueueUnavailable

log = logging.getLogger(__name__)

QUEUE_FILE = "replies.db"
# Every Redis call of the queue gives up within this: a frozen Redis must not hold a push for
# long (WeChat waits 5 s), the job then waits on this host instead. Above huey's blocking read.
REDIS_TIMEOUT = 0.5
BLOCKING_READ = 0.4


class WalSqliteStorage(SqliteStorage):  # type: ignore[misc]
    """huey's SQLite storage in WAL mode with synchronous=NORMAL, as diskcache keeps the state,
    on the queue file as its QueueFile opened it.

    A committed job survives any crash of kefu's processes (SIGKILL, OOM); only an operating
    system crash or power loss may lose the last few commits, never corrupt the file. huey
    offers FULL (an fsync per commit, which halves the ack path's speed) or OFF (which risks
    corruption on power loss); NORMAL is SQLite's recommendation for WAL.

    Every connection is made after the queue file is open (checked, private, its tables made),
    instead of huey's tables made at construction: so a file the disk would not let be opened
    at start is opened by the first use that can, and never created unchecked.
    """

    def __init__(self, name: str, queue_file: QueueFile, **options: Any) -> None:
        self._queue_file = queue_file
        super().__init__(name, create_tables=False, **options)

    def _create_connection(self) -> sqlite3.Connection:
        # Called with this storage's lock held: opening takes no storage's lock.
        self._queue_file.open_once()
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


class SteadyHuey(Huey):  # type: ignore[misc]
    """huey telling the time by the queue's steady clock: a due retry is one by that clock."""

    def __init__(self, name: str, clock: SteadyClock, **options: Any) -> None:
        super().__init__(name, **options)
        self._steady = clock

    def _get_timestamp(self) -> datetime.datetime:
        return self._steady.utc().replace(tzinfo=None)  # huey compares naive UTC datetimes


LATEST_JOB_TTL = 3600
"""Seconds a user's latest job is remembered on Redis; on SQLite the reaper prunes instead."""
EntryAfter = Callable[[str | None], object]
"""The journal entry of a job, given the id of the user's job before it (None if none)."""


@dataclass(frozen=True)
class QueueStores:
    """Three huey instances on one storage: the task queue and schedule (`tasks`), and two
    key-value namespaces, the lease journal (`journal`) and the dead letters (`dead`). Beside
    them, each user's latest job, so that a user's next job waits for it."""

    tasks: Huey
    journal: Huey
    dead: Huey
    _latest: dict[str, str] = field(default_factory=dict)  # huey's memory storage, in tests
    clock: SteadyClock = field(default_factory=SteadyClock)  # the one huey tells time by
    _values: StoredValues = field(default_factory=lambda: StoredValues("reply queue"))
    file: QueueFile | None = None  # SQLite's file, followed when deleted or replaced

    def follow_file(self) -> Followed | None:
        """On SQLite, when the queue file was deleted or replaced while open, carry what it
        holds to the file at its path and go on with that one (one stat when nothing moved).
        Raises QueueUnavailable."""
        if self.file is None:
            return None
        storages = [self.tasks.storage, self.journal.storage, self.dead.storage]
        with queue_errors():
            return self.file.follow(storages)

    def close(self) -> None:
        """Close every connection to the store (at exit): the last one to an SQLite file
        checkpoints it, so a file left by a stopped kefu holds all its rows itself."""
        for huey in (self.tasks, self.journal, self.dead):
            huey.storage.close()
        if self.file is not None:
            self.file.close()

    def journal_and_enqueue(self, key: str, user: str, entry: EntryAfter, task: Task) -> None:
        """Make job `key` the user's latest, journal `entry(previous latest)` and enqueue the
        task as one step: all or nothing.

        One SQLite transaction instead of three writes (two of them in the state store): no job
        is ever journalled but not queued, and a push costs one write. The statements are
        huey's own `put_data` and `enqueue`, aimed at the namespaces of the one storage. On
        Redis the latest job is swapped first (SET ... GET, atomic), then journal and queue go
        in one MULTI; should that fail, the user's next job finds no entry and does not wait.
        """
        data, user = self.tasks.serialize_task(task), storable(user)
        storage, journal = self.tasks.storage, self.journal.storage
        serialize = self.journal.serializer.serialize
        self.follow_file()  # a job must never go into a file no process will open again
        with queue_errors():
            if isinstance(storage, SqliteStorage) and isinstance(journal, SqliteStorage):
                with storage.db(commit=True) as cursor:
                    cursor.execute(
                        "select value from kv where queue = ? and key = ?",
                        (_latest_name(journal), user),
                    )
                    previous = self._latest_job(cursor.fetchone())
                    cursor.execute(
                        "insert or replace into kv (queue, key, value) values (?, ?, ?)",
                        (_latest_name(journal), user, key.encode()),
                    )
                    cursor.execute(
                        "insert or replace into kv (queue, key, value) values (?, ?, ?)",
                        (journal.name, key, storage.to_blob(serialize(entry(previous)))),
                    )
                    cursor.execute(
                        "insert into task (queue, data, priority) values (?, ?, ?)",
                        (storage.name, storage.to_blob(data), 0),
                    )
            elif isinstance(storage, RedisStorage) and isinstance(journal, RedisStorage):
                before = storage.conn.set(
                    f"{_latest_name(journal)}:{user}", key, ex=LATEST_JOB_TTL, get=True
                )
                previous = self._latest_job((before,))
                pipeline = storage.conn.pipeline(transaction=True)
                pipeline.hset(journal.result_key, key, serialize(entry(previous)))
                pipeline.lpush(storage.queue_key, data)
                pipeline.execute()
            else:  # huey's memory storage, in tests: nothing to make atomic
                before = self._latest.get(user)
                self._latest[user] = key
                self.journal.put(key, entry(before))
                self.tasks.enqueue(task)

    def probe(self, key: str) -> None:
        """Write a small value under `key` and read it back (then remove it), as a job would be
        written: whether the store takes writes now, not a guess. Raises QueueUnavailable."""
        storage = self.journal.storage
        # A plain string: the journal's readers skip it, should one see it meanwhile.
        value = self.journal.serializer.serialize(f"probe {uuid.uuid4().hex}")
        with queue_errors():
            storage.put_data(key, value)
            back = storage.pop_data(key)
        if not isinstance(back, bytes | memoryview) or bytes(back) != value:
            raise QueueUnavailable("reply queue store did not give back what was written")

    def forget_finished(self) -> None:
        """Drop users' latest jobs that are no longer journalled (SQLite; Redis expires them).

        Safe at any time: a job's entry is written with its pointer and deleted only when the
        job is done, and a finished latest job makes the next one wait no more than none does.
        """
        self.follow_file()
        journal = self.journal.storage
        with queue_errors():
            if isinstance(journal, SqliteStorage):
                journal.sql(
                    "delete from kv where queue = ? and cast(value as text) not in"
                    " (select key from kv where queue = ?)",
                    (_latest_name(journal), journal.name),
                    commit=True,
                )

    def _latest_job(self, row: tuple[object, ...] | None) -> str | None:
        """The user's latest job id as stored (bytes from SQLite and Redis); None if not ours."""
        return None if row is None else self._values.text(row[0], "latest job of a user")


def _latest_name(journal: SqliteStorage | RedisStorage) -> str:
    return f"{journal.name}:latest"


def sqlite_stores(
    state_dir: Path, prefix: str = "kefu", clock: SteadyClock | None = None
) -> QueueStores:
    """SQLite in KEFU_STATE_DIR, shared by every process on this host; private to kefu's user
    like the rest of the state (the jobs name users and what they are sent)."""
    queue_file = QueueFile(Path(state_dir) / QUEUE_FILE)
    try:
        queue_file.open()  # at once, so an unreadable file is set aside before the first job
    except (OSError, sqlite3.Error) as error:
        # NOTE: the process still starts: its uses of the queue fail (readiness says so) and
        # try again, like a Redis down at start; a worker that stopped instead would stop the
        # whole service at gunicorn's next restart of any worker.
        log.error("reply queue file %s cannot be opened yet: %s", queue_file.path, error)
    filename = str(queue_file.path)
    steady = clock or SteadyClock()

    def make(name: str) -> Huey:
        return SteadyHuey(
            f"{prefix}-{name}",
            steady,
            storage_class=WalSqliteStorage,
            filename=filename,
            queue_file=queue_file,
            results=False,
            serializer=QueueSerializer(),
        )

    return QueueStores(
        make("replies"), make("journal"), make("dead"), clock=steady, file=queue_file
    )


def redis_stores(url: str, prefix: str = "kefu:", clock: SteadyClock | None = None) -> QueueStores:
    """Redis on KEFU_REDIS_URL, shared by every host that points at it; keys under `prefix`."""
    pool = redis.ConnectionPool.from_url(
        url, socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT
    )

    steady = clock or SteadyClock()

    def make(name: str) -> Huey:
        return SteadyHuey(
            f"{prefix}queue:{name}",
            steady,
            storage_class=PrefixedRedisStorage,
            connection_pool=pool,
            read_timeout=BLOCKING_READ,
            results=False,
            serializer=QueueSerializer(),
        )

    return QueueStores(make("replies"), make("journal"), make("dead"), clock=steady)


@contextmanager
def queue_errors() -> Iterator[None]:
    """Whatever the storage raises becomes QueueUnavailable, the one error callers handle."""
    try:
        yield
    except (OSError, sqlite3.Error, redis.RedisError) as error:
        raise QueueUnavailable(
            f"reply queue unavailable: {type(error).__name__}: {error}"
        ) from error
