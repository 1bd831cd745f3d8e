"""HttpMediaSource against `responses`, and the naming and typing it shares with files."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from itertools import count

import pytest
import requests
import responses

from adapters.media.types import MediaTooLarge, NotAnImage, filename_for, typed_image
from adapters.media.urls import HttpMediaSource
from domain.errors import MediaUnavailable
from domain.replies import ImageRef, MediaFile

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32
GIF = b"GIF89a" + b"\x00" * 32
POSTER = "https://example.com/cms/poster.jpg"


@pytest.fixture
def web() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


def test_an_image_is_downloaded_with_its_declared_type(web: responses.RequestsMock) -> None:
    web.get(
        POSTER, body=JPEG, content_type="image/jpeg", headers={"Content-Length": str(len(JPEG))}
    )
    media = HttpMediaSource().load(ImageRef(POSTER))
    assert media == MediaFile("poster.jpg", "image/jpeg", JPEG)


def test_a_gzip_encoded_image_is_decoded(web: responses.RequestsMock) -> None:
    packed = gzip.compress(JPEG)
    web.get(POSTER, body=packed, content_type="image/jpeg", headers={"Content-Encoding": "gzip"})
    assert HttpMediaSource().load(ImageRef(POSTER)).data == JPEG


def test_the_size_cap_counts_decoded_bytes(web: responses.RequestsMock) -> None:
    packed = gzip.compress(JPEG + b"\x00" * 100_000)
    web.get(POSTER, body=packed, content_type="image/jpeg", headers={"Content-Encoding": "gzip"})
    assert len(packed) < 1000
    with pytest.raises(MediaTooLarge):
        HttpMediaSource(max_bytes=50_000).load(ImageRef(POSTER))


def test_downloads_stream_with_a_connect_and_read_timeout(web: responses.RequestsMock) -> None:
    web.get(POSTER, body=JPEG, content_type="image/jpeg")
    HttpMediaSource(session=requests.Session(), timeout=(1.5, 4)).load(ImageRef(POSTER))
    kwargs = web.calls[0].request.req_kwargs  # type: ignore[attr-defined]
    assert kwargs["timeout"] == (1.5, 4)
    assert kwargs["stream"] is True


def test_an_image_declared_too_large_is_refused_before_reading(
    web: responses.RequestsMock,
) -> None:
    web.get(POSTER, body=JPEG, content_type="image/jpeg", headers={"Content-Length": "5000000"})
    with pytest.raises(MediaTooLarge) as refused:
        HttpMediaSource().load(ImageRef(POSTER))
    assert refused.value.size == 5_000_000
    assert "2097152-byte limit" in str(refused.value.reason)


def test_a_body_growing_past_the_cap_without_a_length_is_cut_off(
    web: responses.RequestsMock,
) -> None:
    web.get(POSTER, body=JPEG + b"\x00" * 1000, content_type="image/jpeg")
    with pytest.raises(MediaTooLarge) as refused:
        HttpMediaSource(max_bytes=500).load(ImageRef(POSTER))
    assert refused.value.size is None


def test_a_download_that_trickles_past_the_deadline_is_abandoned(
    web: responses.RequestsMock,
) -> None:
    web.get(POSTER, body=JPEG * 4000, content_type="image/jpeg")
    ticks = count(step=10.0)
    source = HttpMediaSource(max_seconds=25, clock=lambda: next(ticks))
    with pytest.raises(MediaUnavailable, match="took over 25 s"):
        source.load(ImageRef(POSTER))


def test_a_missing_image_reports_the_http_status(web: responses.RequestsMock) -> None:
    web.get(POSTER, status=404, body="<html>Not Found</html>", content_type="text/html")
    with pytest.raises(MediaUnavailable) as missing:
        HttpMediaSource().load(ImageRef(POSTER))
    assert str(missing.value.reason) == "download answered HTTP 404"


def test_an_html_page_served_with_200_is_not_taken_for_an_image(
    web: responses.RequestsMock,
) -> None:
    web.get(POSTER, body="<!doctype html><p>登录</p>", content_type="text/html; charset=utf-8")
    with pytest.raises(NotAnImage) as refused:
        HttpMediaSource().load(ImageRef(POSTER))
    assert str(refused.value.reason).startswith("not an image (text/html")


def test_an_html_page_without_a_content_type_is_refused_too(web: responses.RequestsMock) -> None:
    web.get(POSTER, body=b"  <html>oops</html>", content_type=None)
    with pytest.raises(NotAnImage):
        HttpMediaSource().load(ImageRef(POSTER))


def test_a_timeout_becomes_an_unavailable_image(web: responses.RequestsMock) -> None:
    web.get(POSTER, body=requests.ConnectTimeout("slow"))
    with pytest.raises(MediaUnavailable) as failed:
        HttpMediaSource().load(ImageRef(POSTER))
    assert str(failed.value.reason) == "download timed out"


def test_a_refused_connection_becomes_an_unavailable_image(web: responses.RequestsMock) -> None:
    web.get(POSTER, body=requests.ConnectionError("refused"))
    with pytest.raises(MediaUnavailable, match="download failed"):
        HttpMediaSource().load(ImageRef(POSTER))


def test_an_octet_stream_is_typed_by_its_bytes(web: responses.RequestsMock) -> None:
    url = "https://cdn.example.com/img/a1b2c3?sign=x"
    web.get(url, body=PNG, content_type="application/octet-stream")
    assert HttpMediaSource().load(ImageRef(url)) == MediaFile("a1b2c3.png", "image/png", PNG)


def test_a_name_without_a_path_gets_a_plain_image_name(web: responses.RequestsMock) -> None:
    web.get("https://example.com", body=GIF, content_type="image/gif")
    assert HttpMediaSource().load(ImageRef("https://example.com")).filename == "image.gif"


@pytest.mark.parametrize(
    ("name", "content_type", "filename"),
    [
        ("/cms/poster.jpg", "image/jpeg", "poster.jpg"),
        ("/cms/poster.JPEG", "image/jpeg", "poster.jpeg"),
        ("/cms/poster", "image/jpeg", "poster.jpg"),
        ("/cms/poster.png", "image/jpeg", "poster.jpg"),
        ("/cms/v1.2", "image/png", "v1.2.png"),
        ("", "image/png", "image.png"),
        ("/", "image/png", "image.png"),
        ("/cms/%E6%B5%B7%E6%8A%A5.jpg", "image/jpeg", "image.jpg"),
        ('/cms/a "quoted" name.gif', "image/gif", "a_quoted_name.gif"),
        ("/cms/logo.svg", "image/svg+xml", "logo.svg"),
        ("/" + "x" * 200 + ".png", "image/png", "x" * 76 + ".png"),
    ],
)
def test_filenames_are_plain_and_match_the_content_type(
    name: str, content_type: str, filename: str
) -> None:
    assert filename_for(name, content_type) == filename


@pytest.mark.parametrize(
    ("data", "declared", "name", "expected"),
    [
        (PNG, "image/jpeg", "a.jpg", "image/png"),
        (JPEG, None, "a.png", "image/jpeg"),
        (GIF, "application/octet-stream", "a", "image/gif"),
    ],
)
def test_the_leading_bytes_alone_decide_the_type(
    data: bytes, declared: str | None, name: str, expected: str
) -> None:
    assert typed_image("ref", data, name, declared).content_type == expected


@pytest.mark.parametrize(
    ("data", "declared", "name"),
    [
        (b"RIFF....WEBP", "image/webp", "a.webp"),
        (b"BM......", "application/octet-stream", "a.jpeg"),
        (b'{"errcode":40007}', "image/jpeg", "a.jpg"),
        (b"\x7fELF\x02\x01\x01", None, "a.jpg"),
    ],
)
def test_bytes_no_magic_proves_an_image_are_refused_whatever_their_name_or_header(
    data: bytes, declared: str | None, name: str
) -> None:
    with pytest.raises(NotAnImage):
        typed_image("ref", data, name, declared)
