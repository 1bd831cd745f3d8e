"""Image URLs against real loopback servers: no private address, no trickle, no fake image."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from adapters.media.urls import HttpMediaSource
from domain.errors import MediaUnavailable
from domain.replies import ImageRef, MediaFile
from tests.images import JPEG


@dataclass
class ImageHost:
    port: int
    paths: list[str] = field(default_factory=list)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self.server.host.paths.append(self.path)
        if self.path.startswith("/hop/"):
            left = int(self.path.split("/")[2])
            target = "/poster.jpg" if left == 0 else f"/hop/{left - 1}"
            self._answer(302, b"", {"Location": target})
        elif self.path == "/to-loopback":
            self._answer(302, b"", {"Location": self.server.host.url("/poster.jpg")})
        elif self.path == "/secret.jpg":
            self._answer(200, b"DB_PASSWORD=hunter2 admin=root", {"Content-Type": "image/jpeg"})
        elif self.path == "/trickle.jpg":
            self._trickle()
        else:
            self._answer(200, JPEG, {"Content-Type": "image/jpeg"})

    def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _trickle(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.end_headers()
        try:
            for byte in JPEG[:40]:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.3)
        except OSError:
            pass  # the client gave up, as it should

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    host: ImageHost


@pytest.fixture
def image_host() -> Iterator[ImageHost]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.host = ImageHost(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.host
    server.shutdown()
    server.server_close()


def refused(source: HttpMediaSource, url: str) -> str:
    with pytest.raises(MediaUnavailable) as failure:
        source.load(ImageRef(url))
    return failure.value.reason


def test_a_loopback_image_host_is_refused_unless_allowed(image_host: ImageHost):
    assert "127.0.0.1 is not a public address" in refused(
        HttpMediaSource(), image_host.url("/poster.jpg")
    )
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
    ],
)
def test_private_and_reserved_addresses_are_refused_in_every_numeric_form(host: str):
    # Refused from the URL alone: nothing is connected to, so no test traffic leaves loopback.
    assert "is not a public address" in refused(HttpMediaSource(), f"http://{host}:9/a.jpg")


def test_a_name_that_resolves_to_loopback_is_refused_where_it_connects(image_host: ImageHost):
    assert "127.0.0.1 is not a public address" in refused(
        HttpMediaSource(), image_host.url("/poster.jpg", host="localhost")
    )
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
    assert "127.0.0.1 is not a public address" in reason
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
