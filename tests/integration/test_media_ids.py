"""MediaSources routing and UploadingMediaIds, with a hand-written fake uploader."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import responses

from adapters.media_files import FileMediaSource, MediaOutsideRoot
from adapters.media_ids import UploadingMediaIds
from adapters.media_sources import MediaSources
from adapters.media_urls import HttpMediaSource
from domain.errors import DeliveryError, MediaUnavailable
from domain.ports import MediaIds, MediaSource
from domain.replies import ImageRef, MediaFile
from domain.rules_document import ImageCheck

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32
POSTER = "https://example.com/cms/poster.jpg"


class UploadRejected(DeliveryError):
    """Stands in for the WeChat API adapter's own DeliveryError subclass."""


class FakeUploader:
    def __init__(self, failure: DeliveryError | None = None) -> None:
        self.uploaded: list[MediaFile] = []
        self._failure = failure

    def upload_image(self, media: MediaFile) -> str:
        if self._failure is not None:
            raise self._failure
        self.uploaded.append(media)
        return f"MEDIA_{len(self.uploaded)}"


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
    source: MediaSource = sources
    ids: MediaIds = UploadingMediaIds(source, FakeUploader())
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
    assert unavailable.value.reason == "upload to WeChat failed: 40004 invalid media type"
    assert unavailable.value.__cause__ is rejected


def test_an_image_that_cannot_be_loaded_is_never_uploaded(sources: MediaSources) -> None:
    uploader = FakeUploader()
    with pytest.raises(MediaUnavailable):
        UploadingMediaIds(sources, uploader).media_id_for(ImageRef("/cms/missing.png"))
    assert uploader.uploaded == []


def test_every_request_uploads_again_until_a_cache_exists(sources: MediaSources) -> None:
    uploader = FakeUploader()
    ids = UploadingMediaIds(sources, uploader)
    ref = ImageRef("/cms/poster02.png")
    first = ids.media_id_for(ref)
    ids.forget(ref)
    assert (first, ids.media_id_for(ref)) == ("MEDIA_1", "MEDIA_2")
