"""Image URLs against real loopback servers: no private address, no trickle, no fake image."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from adapters.media.address_policy import NOT_PUBLIC
from adapters.media.urls import HttpMediaSource
from domain.errors import MediaUnavailable
from domain.replies import ImageRef, MediaFile
from tests.image_host import ImageHost, serving_images
from tests.images import JPEG


@pytest.fixture
def image_host() -> Iterator[ImageHost]:
    with serving_images() as host:
        yield host


def refused(source: HttpMediaSource, url: str) -> str:
    with pytest.raises(MediaUnavailable) as failure:
        source.load(ImageRef(url))
    return str(failure.value.reason)


def test_a_loopback_image_host_is_refused_unless_allowed(image_host: ImageHost):
    assert refused(HttpMediaSource(), image_host.url("/poster.jpg")) == NOT_PUBLIC
    assert image_host.paths == []
    allowed = HttpMediaSource(allow_hosts=["127.0.0.1"]).load(ImageRef(image_host.url("/p.jpg")))
    assert allowed == MediaFile("p.jpg", "image/jpeg", JPEG)


@pytest.mark.parametrize(
    "host",
    [
        "0x7f000001",
        "2130706433",
        "0177.0.0.1",
        "127.1",
        "[::1]",
        "[::ffff:127.0.0.1]",
        "10.0.0.1",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "[fe80::1]",
        "[fc00::1]",
        "224.0.0.1",
        "0.0.0.0",
        "240.0.0.1",
        "[2002:7f00:1::]",
        "[2002:a9fe:a9fe::]",
        "192.0.0.8",
        "[64:ff9b::7f00:1]",
        "[2001:0:4136:e378:8000:63bf:80ff:fffe]",
        "[::127.0.0.1]",
        "100.64.0.1",
        "198.18.0.1",
        "255.255.255.255",
    ],
)
def test_private_and_reserved_addresses_are_refused_in_every_numeric_form(host: str):
    # Refused from the URL alone: nothing is connected to, so no test traffic leaves loopback.
    assert refused(HttpMediaSource(), f"http://{host}:9/a.jpg") == NOT_PUBLIC


def test_a_name_that_resolves_to_loopback_is_refused_by_the_system_resolver(image_host):
    assert refused(HttpMediaSource(), image_host.url("/a.jpg", host="localhost")) == NOT_PUBLIC
    assert image_host.paths == []


@pytest.mark.parametrize(
    "url",
    ["http://example.com@127.0.0.1:9/a.jpg", "http://user:pw@example.com/a.jpg"],
)
def test_urls_with_user_info_are_refused(url: str):
    assert "user info" in refused(HttpMediaSource(), url)


def test_only_http_and_https_are_fetched():
    assert "only http(s)" in refused(HttpMediaSource(), "file:///etc/passwd")


def test_a_redirect_to_a_private_address_is_checked_like_the_first_hop(image_host: ImageHost):
    source = HttpMediaSource(allow_hosts=["localhost"])
    reason = refused(source, image_host.url("/to-loopback", host="localhost"))
    assert reason == NOT_PUBLIC
    assert image_host.paths == ["/to-loopback"]


def test_three_redirects_are_followed_and_a_fourth_is_not(image_host: ImageHost):
    source = HttpMediaSource(allow_hosts=["127.0.0.1"])
    assert source.load(ImageRef(image_host.url("/hop/2"))).data == JPEG
    assert "more than 3 redirects" in refused(source, image_host.url("/hop/3"))
    assert image_host.paths[-4:] == ["/hop/3", "/hop/2", "/hop/1", "/hop/0"]


def test_text_served_as_a_jpeg_is_not_an_image(image_host: ImageHost):
    reason = refused(HttpMediaSource(allow_hosts=["127.0.0.1"]), image_host.url("/secret.jpg"))
    assert reason.startswith("not an image (image/jpeg, 30 bytes")


def test_a_trickling_host_is_dropped_at_the_deadline(image_host: ImageHost):
    source = HttpMediaSource(allow_hosts=["127.0.0.1"], max_seconds=1.0)
    started = time.monotonic()
    reason = refused(source, image_host.url("/trickle.jpg"))
    took = time.monotonic() - started
    assert reason == "download took over 1 s"
    assert took < 1.5  # one byte every 0.3 s would take 12 s


def test_a_failed_image_is_remembered_for_a_short_while(image_host: ImageHost):
    source = HttpMediaSource(allow_hosts=["127.0.0.1"], failure_ttl=0.5)
    url = image_host.url("/secret.jpg")
    first, again = refused(source, url), refused(source, url)
    assert first == again
    assert image_host.paths == ["/secret.jpg"]
    deadline = time.monotonic() + 5
    while len(image_host.paths) < 2 and time.monotonic() < deadline:
        refused(source, url)
        time.sleep(0.05)
    assert image_host.paths == ["/secret.jpg", "/secret.jpg"]
