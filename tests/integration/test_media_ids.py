"""MediaSources routing and UploadingMediaIds with its media-id cache, in one process."""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest
import responses

from adapters.media.files import FileMediaSource, MediaOutsideRoot
from adapters.media.ids import FingerprintedSource, UploadingMediaIds, cache_key
from adapters.media.sources import MediaSources
from adapters.media.urls import HttpMediaSource
from adapters.state.guard import GuardedStateStore
from adapters.state.locks import LockingStore
from adapters.state.memory import MemoryStateStore
from adapters.state.redis import RedisUnavailable
from domain.errors import DeliveryError, MediaUnavailable
from domain.ports import MediaIds
from domain.replies import ImageRef, MediaFile
from domain.reply_parsing import ImageCheck
from tests.fakes import FakeClock

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32
POSTER = "https://example.com/cms/poster.jpg"


class UploadRejected(DeliveryError):
    """Stands in for the WeChat API adapter's own DeliveryError subclass."""


class FakeUploader:
    def __init__(self, failure: DeliveryError | None = None, delay: float = 0.0) -> None:
        self.uploaded: list[MediaFile] = []
        self._failure = failure
        self._delay = delay
        self._mutex = threading.Lock()

    def upload_image(self, media: MediaFile) -> str:
        if self._failure is not None:
            raise self._failure
        time.sleep(self._delay)
        with self._mutex:
            self.uploaded.append(media)
            return f"MEDIA_{len(self.uploaded)}"


class BrokenStore:
    """A state store whose every operation fails, as when Redis is down."""

    def add(self, key: str, value: str, ttl: float) -> bool:
        raise RedisUnavailable("ConnectionError: refused")

    def get(self, key: str) -> str | None:
        raise RedisUnavailable("ConnectionError: refused")

    def set(self, key: str, value: str, ttl: float) -> None:
        raise RedisUnavailable("ConnectionError: refused")

    def delete(self, key: str) -> None:
        raise RedisUnavailable("ConnectionError: refused")

    def lock(self, name: str, timeout: float) -> AbstractContextManager[bool]:
        raise RedisUnavailable("ConnectionError: refused")


class WriteOnlyFailingStore(MemoryStateStore):
    """Reads and locks work; writing and releasing fail (a full disk, say)."""

    def set(self, key: str, value: str, ttl: float) -> None:
        raise RedisUnavailable("OOM command not allowed")

    @contextmanager
    def lock(self, name: str, timeout: float) -> Iterator[bool]:
        yield True
        raise RedisUnavailable("TimeoutError: release timed out")


@pytest.fixture
def sources(tmp_path: Path) -> MediaSources:
    (tmp_path / "cms").mkdir()
    (tmp_path / "cms" / "poster02.png").write_bytes(PNG)
    return MediaSources(FileMediaSource(tmp_path), HttpMediaSource())


@pytest.fixture
def web() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


def test_the_adapters_fit_the_domain_ports(sources: MediaSources) -> None:
    source: FingerprintedSource = sources
    ids: MediaIds = UploadingMediaIds(sources, FakeUploader(), MemoryStateStore())
    assert source.load(ImageRef("/cms/poster02.png")).data == PNG
    check: ImageCheck = sources.problem_with
    assert check(ImageRef("/cms/poster02.png")) is None
    assert ids.media_id_for(ImageRef("/cms/poster02.png")) == "MEDIA_1"


def test_paths_are_read_from_the_media_root(sources: MediaSources) -> None:
    assert sources.load(ImageRef("/cms/poster02.png")).data == PNG


def test_urls_are_downloaded(sources: MediaSources, web: responses.RequestsMock) -> None:
    web.get(POSTER, body=JPEG, content_type="image/jpeg")
    assert sources.load(ImageRef(POSTER)) == MediaFile("poster.jpg", "image/jpeg", JPEG)


def test_a_path_is_never_fetched_over_the_network(
    sources: MediaSources, web: responses.RequestsMock
) -> None:
    with pytest.raises(MediaOutsideRoot):
        sources.load(ImageRef("/cms/../../etc/passwd"))
    assert len(web.calls) == 0


def test_an_image_is_uploaded_and_its_media_id_returned(sources: MediaSources) -> None:
    uploader = FakeUploader()
    media_id = UploadingMediaIds(sources, uploader).media_id_for(ImageRef("/cms/poster02.png"))
    assert media_id == "MEDIA_1"
    assert uploader.uploaded == [MediaFile("poster02.png", "image/png", PNG)]


def test_a_failed_upload_makes_the_image_unavailable(sources: MediaSources) -> None:
    rejected = UploadRejected("40004 invalid media type", transient=False)
    ids = UploadingMediaIds(sources, FakeUploader(rejected))
    with pytest.raises(MediaUnavailable) as unavailable:
        ids.media_id_for(ImageRef("/cms/poster02.png"))
    assert unavailable.value.ref == "/cms/poster02.png"
    assert str(unavailable.value.reason) == "upload to WeChat failed: 40004 invalid media type"
    assert unavailable.value.__cause__ is rejected


def test_an_image_that_cannot_be_loaded_is_never_uploaded(sources: MediaSources) -> None:
    uploader = FakeUploader()
    with pytest.raises(MediaUnavailable):
        UploadingMediaIds(sources, uploader).media_id_for(ImageRef("/cms/missing.png"))
    assert uploader.uploaded == []


def cached_ids(
    sources: MediaSources, uploader: FakeUploader, store: LockingStore | None = None
) -> UploadingMediaIds:
    return UploadingMediaIds(sources, uploader, store or MemoryStateStore())


def test_an_image_url_asked_for_twice_is_downloaded_and_uploaded_once(
    sources: MediaSources, web: responses.RequestsMock
) -> None:
    web.get(POSTER, body=JPEG, content_type="image/jpeg")
    uploader = FakeUploader()
    ids = cached_ids(sources, uploader)
    assert [ids.media_id_for(ImageRef(POSTER)) for _ in range(3)] == ["MEDIA_1"] * 3
    assert len(uploader.uploaded) == 1
    assert len(web.calls) == 1


def test_a_file_asked_for_twice_is_uploaded_once(sources: MediaSources) -> None:
    uploader = FakeUploader()
    ids = cached_ids(sources, uploader)
    ref = ImageRef("/cms/poster02.png")
    assert (ids.media_id_for(ref), ids.media_id_for(ImageRef("cms/poster02.png"))) == (
        "MEDIA_1",
        "MEDIA_1",
    )
    assert len(uploader.uploaded) == 1


def test_a_forgotten_image_is_uploaded_again(sources: MediaSources) -> None:
    uploader = FakeUploader()
    ids = cached_ids(sources, uploader)
    ref = ImageRef("/cms/poster02.png")
    first = ids.media_id_for(ref)
    ids.forget(ref)
    assert (first, ids.media_id_for(ref), ids.media_id_for(ref)) == (
        "MEDIA_1",
        "MEDIA_2",
        "MEDIA_2",
    )


def test_an_edited_file_is_uploaded_again(sources: MediaSources, tmp_path: Path) -> None:
    uploader = FakeUploader()
    ids = cached_ids(sources, uploader)
    ref, poster = ImageRef("/cms/poster02.png"), tmp_path / "cms" / "poster02.png"
    ids.media_id_for(ref)
    poster.write_bytes(PNG + b"\x00")
    assert ids.media_id_for(ref) == "MEDIA_2"
    assert uploader.uploaded[-1].data == PNG + b"\x00"


def test_a_file_touched_without_changing_its_size_is_uploaded_again(
    sources: MediaSources, tmp_path: Path
) -> None:
    uploader = FakeUploader()
    ids = cached_ids(sources, uploader)
    ref, poster = ImageRef("/cms/poster02.png"), tmp_path / "cms" / "poster02.png"
    ids.media_id_for(ref)
    os.utime(poster, ns=(0, poster.stat().st_mtime_ns + 1_000_000_000))
    assert ids.media_id_for(ref) == "MEDIA_2"


def test_a_media_id_is_reused_for_60_hours_then_uploaded_again(sources: MediaSources) -> None:
    clock, uploader = FakeClock(), FakeUploader()
    ids = UploadingMediaIds(sources, uploader, MemoryStateStore(clock), clock=clock)
    ref = ImageRef("/cms/poster02.png")
    ids.media_id_for(ref)
    clock.now += 60 * 3600 - 1
    assert ids.media_id_for(ref) == "MEDIA_1"
    clock.now += 1
    assert ids.media_id_for(ref) == "MEDIA_2"


def test_an_id_older_than_60_hours_is_not_used_even_if_the_store_still_holds_it(
    sources: MediaSources,
) -> None:
    clock, store, uploader = FakeClock(), MemoryStateStore(), FakeUploader()
    ref = ImageRef("/cms/poster02.png")
    UploadingMediaIds(sources, uploader, store, clock=clock).media_id_for(ref)
    key = cache_key(sources.fingerprint(ref))
    store.set(key, f"{clock.now - 60 * 3600} MEDIA_1", 3600)  # kept longer than it should be
    assert UploadingMediaIds(sources, uploader, store, clock=clock).media_id_for(ref) == "MEDIA_2"


def test_ids_are_kept_under_media_and_the_sha256_of_the_reference(sources: MediaSources) -> None:
    store, long_url = MemoryStateStore(), POSTER + "?v=" + "x" * 5000
    assert cache_key(long_url) == "media:" + hashlib.sha256(long_url.encode()).hexdigest()
    UploadingMediaIds(sources, FakeUploader(), store).media_id_for(ImageRef("/cms/poster02.png"))
    stored = store.get(cache_key(sources.fingerprint(ImageRef("/cms/poster02.png"))))
    assert stored is not None and stored.endswith(" MEDIA_1")


def test_twenty_threads_asking_for_one_image_at_once_upload_it_once(
    sources: MediaSources,
) -> None:
    uploader = FakeUploader(delay=0.1)
    ids, start = cached_ids(sources, uploader), threading.Barrier(20)

    def ask(_: int) -> str:
        start.wait(timeout=10)
        return ids.media_id_for(ImageRef("/cms/poster02.png"))

    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(ask, range(20)))
    assert answers == ["MEDIA_1"] * 20
    assert len(uploader.uploaded) == 1


def test_a_lock_not_won_in_time_still_gets_an_id_by_uploading(sources: MediaSources) -> None:
    store, uploader = MemoryStateStore(), FakeUploader()
    ids = UploadingMediaIds(sources, uploader, store, lock_timeout=0.05)
    ref = ImageRef("/cms/poster02.png")
    with store.lock(cache_key(sources.fingerprint(ref)), timeout=1) as held_elsewhere:
        assert held_elsewhere
        assert ids.media_id_for(ref) == "MEDIA_1"
    assert ids.media_id_for(ref) == "MEDIA_1"


def test_a_failing_store_still_gives_a_media_id_and_warns_once(
    sources: MediaSources, caplog: pytest.LogCaptureFixture
) -> None:
    uploader = FakeUploader()
    ids = UploadingMediaIds(sources, uploader, GuardedStateStore(BrokenStore()))
    ref = ImageRef("/cms/poster02.png")
    with caplog.at_level(logging.WARNING):
        answers = (ids.media_id_for(ref), ids.media_id_for(ref))
        ids.forget(ref)
    assert answers == ("MEDIA_1", "MEDIA_2")
    assert [record.levelname for record in caplog.records] == ["WARNING"]
    assert "redis unavailable" in caplog.text


def test_a_store_failing_to_write_or_unlock_still_gives_a_media_id(
    sources: MediaSources, caplog: pytest.LogCaptureFixture
) -> None:
    ids = UploadingMediaIds(sources, FakeUploader(), GuardedStateStore(WriteOnlyFailingStore()))
    with caplog.at_level(logging.WARNING):
        assert ids.media_id_for(ImageRef("/cms/poster02.png")) == "MEDIA_1"
    assert "OOM command not allowed" in caplog.text


def test_a_transient_upload_failure_is_raised_and_not_remembered(sources: MediaSources) -> None:
    store = MemoryStateStore()
    rejected = UploadRejected("-1 system busy", transient=True)
    ref = ImageRef("/cms/poster02.png")
    with pytest.raises(UploadRejected):
        UploadingMediaIds(sources, FakeUploader(rejected), store).media_id_for(ref)
    assert UploadingMediaIds(sources, FakeUploader(), store).media_id_for(ref) == "MEDIA_1"


def test_forgetting_a_file_that_is_gone_does_nothing(sources: MediaSources, tmp_path: Path) -> None:
    ids = cached_ids(sources, FakeUploader())
    ids.media_id_for(ImageRef("/cms/poster02.png"))
    (tmp_path / "cms" / "poster02.png").unlink()
    ids.forget(ImageRef("/cms/poster02.png"))
    with pytest.raises(MediaUnavailable):
        ids.media_id_for(ImageRef("/cms/poster02.png"))


def test_a_file_fingerprint_names_its_path_size_and_mtime(
    sources: MediaSources, tmp_path: Path
) -> None:
    poster = (tmp_path / "cms" / "poster02.png").resolve()
    info = poster.stat()
    assert sources.fingerprint(ImageRef("/cms/poster02.png")) == (
        f"file:{poster}:{info.st_size}:{info.st_mtime_ns}"
    )
    assert sources.fingerprint(ImageRef(POSTER)) == POSTER
    with pytest.raises(MediaOutsideRoot):
        sources.fingerprint(ImageRef("/cms/../../etc/passwd"))
