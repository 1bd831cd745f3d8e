"""Turns at writing the state's SQLite file: handed on across processes, never waited on forever."""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

import pytest

from adapters.state.disk import DiskStateStore, DiskStateUnavailable
from adapters.state.write_turns import WriteTurns


def test_a_turn_held_by_another_process_is_taken_as_soon_as_it_is_given_back(
    tmp_path: Path,
) -> None:
    lock = tmp_path / "writes.lock"
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # another process holding the turn for 0.3 s
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(writer, b"held")
        time.sleep(0.3)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os._exit(0)
    os.read(reader, 4)
    began = time.monotonic()
    with WriteTurns(lock, timeout=5).turn():
        waited = time.monotonic() - began
    os.waitpid(child, 0)
    assert 0.2 < waited < 0.5


def test_a_holder_that_hangs_costs_the_store_a_bounded_wait_not_forever(tmp_path: Path) -> None:
    store = DiskStateStore(tmp_path, busy_timeout=0.3)
    store.set("k", "v", 60)
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # a writer in another process that hangs holding its turn
        fd = os.open(tmp_path / "writes.lock", os.O_RDWR)
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(writer, b"held")
        time.sleep(30)
        os._exit(0)
    os.read(reader, 4)
    began = time.monotonic()
    with pytest.raises(DiskStateUnavailable):
        store.set("k", "w", 60)
    assert time.monotonic() - began < 1.0
    assert store.get("k") == "v"  # reads never wait for a turn
    os.kill(child, 9)
    os.waitpid(child, 0)
    store.close()
