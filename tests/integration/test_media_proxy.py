"""Image downloads through an egress proxy (HTTPS_PROXY, HTTP_PROXY, NO_PROXY), checks kept."""

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
from tests.local_proxy import LocalProxy, running_proxy

# kefu's DNS gives the image host a public address; only the proxy knows it is this machine.
KEFU_DNS = {
    "images.example": "93.184.215.14",
    "intranet.example": "10.0.0.5",
    "cdn.internal": "127.0.0.1",
}
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY")


def kefu_dns(host: str, port: int) -> list[Address]:
    if host not in KEFU_DNS:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    return [ip_address(KEFU_DNS[host])]


@pytest.fixture(autouse=True)
def no_proxy_from_outside(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture
def image_host() -> Iterator[ImageHost]:
    with serving_images() as host:
        yield host


@pytest.fixture
def proxy() -> Iterator[LocalProxy]:
    with running_proxy({"images.example": "127.0.0.1", "intranet.example": "127.0.0.1"}) as p:
        yield p


def test_an_http_image_is_fetched_through_http_proxy(monkeypatch, image_host, proxy):
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    url = f"http://images.example:{image_host.port}/poster.jpg"
    assert HttpMediaSource(resolver=kefu_dns).load(ImageRef(url)).data == JPEG
    assert proxy.asked == [f"GET {url}"]
    assert image_host.host_headers == [f"images.example:{image_host.port}"]


def test_an_https_image_is_tunnelled_through_https_proxy_and_its_certificate_checked(
    monkeypatch, proxy, tmp_path
):
    context, cert = tls_for("images.example", tmp_path)
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    session = requests.Session()
    session.verify = str(cert)
    with serving_images(tls=context) as host:
        url = f"https://images.example:{host.port}/poster.jpg"
        media = HttpMediaSource(session=session, resolver=kefu_dns).load(ImageRef(url))
    assert media.data == JPEG
    assert proxy.asked == [f"CONNECT images.example:{host.port}"]


def test_a_host_in_no_proxy_is_fetched_directly(monkeypatch, image_host, proxy):
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", "cdn.internal")
    source = HttpMediaSource(resolver=kefu_dns, allow_hosts=["cdn.internal"])
    url = f"http://cdn.internal:{image_host.port}/poster.jpg"
    assert source.load(ImageRef(url)).data == JPEG
    assert proxy.asked == []
    assert image_host.paths == ["/poster.jpg"]


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_a_name_resolving_to_a_private_address_is_refused_before_the_proxy_is_asked(
    monkeypatch, proxy, scheme
):
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    with pytest.raises(MediaUnavailable) as refused:
        HttpMediaSource(resolver=kefu_dns).load(ImageRef(f"{scheme}://intranet.example/a.jpg"))
    assert str(refused.value.reason) == NOT_PUBLIC
    assert proxy.asked == []


def test_a_private_address_written_in_the_url_is_refused_before_the_proxy_is_asked(
    monkeypatch, proxy
):
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    with pytest.raises(MediaUnavailable) as refused:
        HttpMediaSource(resolver=kefu_dns).load(ImageRef("https://[2002:a9fe:a9fe::]/a.jpg"))
    assert str(refused.value.reason) == NOT_PUBLIC
    assert proxy.asked == []


def test_an_allowed_host_only_the_proxy_can_resolve_is_fetched_through_it(monkeypatch, image_host):
    with running_proxy({"images.corp": "127.0.0.1"}) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        source = HttpMediaSource(resolver=kefu_dns, allow_hosts=["images.corp"])
        url = f"http://images.corp:{image_host.port}/poster.jpg"
        assert source.load(ImageRef(url)).data == JPEG
    assert proxy.asked == [f"GET {url}"]


def test_a_host_kefu_cannot_resolve_is_not_sent_to_the_proxy(monkeypatch, proxy):
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    with pytest.raises(MediaUnavailable) as refused:
        HttpMediaSource(resolver=kefu_dns).load(ImageRef("http://images.corp/a.jpg"))
    assert str(refused.value.reason) == UNRESOLVED
    assert proxy.asked == []
