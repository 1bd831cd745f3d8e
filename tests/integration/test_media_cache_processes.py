"""Worker processes sharing one state store upload an image at most twice, never once per push."""

from __future__ import annotations

import multiprocessing
import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from adapters.media.files import FileMediaSource
from adapters.media.ids import UploadingMediaIds
from adapters.media.sources import MediaSources
from adapters.media.urls import HttpMediaSource
from adapters.state.disk import DiskStateStore
from adapters.state.locks import LockingStore
from adapters.state.redis import RedisStateStore
from domain.replies import ImageRef, MediaFile
from tests.images import png

PROCESSES = 2
THREADS = 6


class LoggingUploader:
    """Writes each media id it hands out as one line of `log`, so every process's count adds up."""

    def __init__(self, log: Path, delay: float = 0.3) -> None:
        self._log = log
        self._delay = delay

    def upload_image(self, media: MediaFile) -> str:
        time.sleep(self._delay)  # as slow as a real upload, so the racers really overlap
        media_id = f"MEDIA_{os.getpid()}_{uuid.uuid4().hex}"
        with self._log.open("a") as log:  # one short append is atomic between processes
            log.write(media_id + "\n")
        return media_id


def _push_in_threads(
    kind: str, where: str, prefix: str, root: str, log: str, start: Any, results: Any
) -> None:
    store: LockingStore = (
        DiskStateStore(Path(where)) if kind == "disk" else RedisStateStore(where, prefix=prefix)
    )
    sources = MediaSources(FileMediaSource(Path(root)), HttpMediaSource())
    ids = UploadingMediaIds(sources, LoggingUploader(Path(log)), store)
    start.wait(timeout=60)
    with ThreadPoolExecutor(THREADS) as pool:
        answers = list(
            pool.map(lambda _: ids.media_id_for(ImageRef("/poster.png")), range(THREADS))
        )
    results.put(answers)


def _race(kind: str, where: str, tmp_path: Path, prefix: str = "") -> tuple[list[str], list[str]]:
    """Every answer the racing workers got, and every id uploaded."""
    root, log = tmp_path / "media", tmp_path / "uploads.log"
    root.mkdir()
    (root / "poster.png").write_bytes(png())
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(PROCESSES), context.Queue()
    args = (kind, where, prefix, str(root), str(log), start, results)
    workers = [context.Process(target=_push_in_threads, args=args) for _ in range(PROCESSES)]
    for worker in workers:
        worker.start()
    answers = [answer for _ in workers for answer in results.get(timeout=60)]
    for worker in workers:
        worker.join(timeout=10)
        assert worker.exitcode == 0
    return answers, log.read_text().split()


def test_workers_sharing_one_state_dir_upload_an_image_at_most_twice(tmp_path: Path) -> None:
    answers, uploaded = _race("disk", str(tmp_path / "state"), tmp_path)
    assert 1 <= len(uploaded) <= 2
    assert len(answers) == PROCESSES * THREADS
    assert set(answers) <= set(uploaded)


def test_workers_sharing_one_redis_upload_an_image_at_most_twice(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    prefix = request.getfixturevalue("redis_prefix")
    answers, uploaded = _race("redis", request.getfixturevalue("redis_url"), tmp_path, prefix)
    assert 1 <= len(uploaded) <= 2
    assert len(answers) == PROCESSES * THREADS
    assert set(answers) <= set(uploaded)
