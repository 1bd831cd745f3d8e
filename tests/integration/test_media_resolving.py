"""Image hosts are resolved once, checked, and connected to at the address that was checked."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from ipaddress import ip_address

import pytest
import requests

from adapters.media.address_policy import NOT_PUBLIC, UNRESOLVED
from adapters.media.public_addresses import Address
from adapters.media.urls import HttpMediaSource
from domain.errors import MediaUnavailable
from domain.replies import ImageRef
from tests.image_host import ImageHost, serving_images, tls_for
from tests.images import JPEG


class Resolver:
    """A DNS of the test's own: names to addresses, every question written down."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self._answers = answers
        self.asked: list[str] = []

    def __call__(self, host: str, port: int) -> list[Address]:
        self.asked.append(host)
        if host not in self._answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [ip_address(a) for a in self._answers[host]]


@pytest.fixture
def image_host() -> Iterator[ImageHost]:
    with serving_images() as host:
        yield host


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A port that takes connections but never answers: any connect to it shows in accept()."""
    with socket.create_server(("127.0.0.1", 0)) as sock:
        sock.setblocking(False)
        yield sock


def refused(source: HttpMediaSource, url: str) -> str:
    with pytest.raises(MediaUnavailable) as failure:
        source.load(ImageRef(url))
    return str(failure.value.reason)


def no_connection_reached(sock: socket.socket) -> bool:
    try:
        sock.accept()[0].close()
    except BlockingIOError:
        return True
    return False


def closed_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        return int(sock.getsockname()[1])


def test_a_name_resolving_to_loopback_is_refused_before_any_connection(listener):
    port = listener.getsockname()[1]
    dns = Resolver({"cdn.example": ["127.0.0.1"]})
    assert refused(HttpMediaSource(resolver=dns), f"http://cdn.example:{port}/a.jpg") == NOT_PUBLIC
    assert dns.asked == ["cdn.example"]
    assert no_connection_reached(listener)


def test_one_private_answer_among_public_ones_refuses_the_name(listener):
    port = listener.getsockname()[1]
    dns = Resolver({"cdn.example": ["93.184.215.14", "10.0.0.7"]})
    assert refused(HttpMediaSource(resolver=dns), f"http://cdn.example:{port}/a.jpg") == NOT_PUBLIC
    assert no_connection_reached(listener)


def test_every_refusal_reads_the_same_whether_the_port_is_open_or_closed(image_host):
    dns = Resolver({"open.example": ["127.0.0.1"], "closed.example": ["127.0.0.1"]})
    source = HttpMediaSource(resolver=dns, failure_ttl=0)
    shut = closed_port()
    reasons = {
        refused(source, f"http://open.example:{image_host.port}/a.jpg"),
        refused(source, f"http://closed.example:{shut}/a.jpg"),
        refused(source, f"http://127.0.0.1:{image_host.port}/a.jpg"),
        refused(source, f"http://127.0.0.1:{shut}/a.jpg"),
        refused(source, f"http://[::ffff:127.0.0.1]:{image_host.port}/a.jpg"),
    }
    assert reasons == {NOT_PUBLIC}
    assert image_host.paths == []


def test_an_allowed_name_is_fetched_from_the_address_it_resolved_to_without_a_second_lookup(
    image_host,
):
    # images.invalid exists in no real DNS: the download can only have gone to the checked address.
    dns = Resolver({"images.invalid": ["127.0.0.1"]})
    source = HttpMediaSource(resolver=dns, allow_hosts=["images.invalid"])
    media = source.load(ImageRef(f"http://images.invalid:{image_host.port}/poster.jpg"))
    assert media.data == JPEG
    assert dns.asked == ["images.invalid"]
    assert image_host.paths == ["/poster.jpg"]
    assert image_host.host_headers == [f"images.invalid:{image_host.port}"]


def test_https_to_the_checked_address_still_verifies_the_certificate_for_the_name(tmp_path):
    context, cert = tls_for("images.invalid", tmp_path)
    dns = Resolver({"images.invalid": ["127.0.0.1"], "other.invalid": ["127.0.0.1"]})
    session = requests.Session()
    session.verify = str(cert)
    source = HttpMediaSource(session, resolver=dns, allow_hosts=["images.invalid", "other.invalid"])
    with serving_images(tls=context) as host:
        assert source.load(ImageRef(f"https://images.invalid:{host.port}/a.jpg")).data == JPEG
        reason = refused(source, f"https://other.invalid:{host.port}/a.jpg")
    assert reason == "download failed (SSLError)"  # the certificate names another host
    assert host.paths == ["/a.jpg"]


def test_a_name_that_does_not_resolve_says_so():
    source = HttpMediaSource(resolver=Resolver({}))
    assert refused(source, "http://nowhere.example/a.jpg") == UNRESOLVED
