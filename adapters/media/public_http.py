"""HTTP that reaches public addresses only: the rules' image URLs must not reach kefu's network."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
SCHEMES = ("http", "https")


class RefusedUrl(Exception):
    """An image URL kefu will not fetch: its form, or the address it leads to."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def not_public(address: Address) -> bool:
    """Loopback, private, link-local, multicast, reserved or unspecified (IPv4 or IPv6)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (
        not address.is_global
        or address.is_multicast
        or address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_reserved
        or address.is_unspecified
    )


def literal_address(host: str) -> Address | None:
    """The address a host names by number, in any form a resolver takes (0x7f000001, 2130706433)."""
    bare = host.strip("[]").split("%", 1)[0]
    try:
        return ipaddress.ip_address(bare)
    except ValueError:
        pass
    try:  # inet_aton reads the numeric short and hex forms that getaddrinfo would resolve
        return ipaddress.IPv4Address(socket.inet_aton(bare))
    except OSError:
        return None


class AddressPolicy:
    """Which hosts may be fetched: public addresses, and the operator's KEFU_MEDIA_ALLOW_HOSTS."""

    def __init__(self, allow_hosts: Iterable[str] = ()) -> None:
        self._allowed = frozenset(h.strip().strip("[]").lower() for h in allow_hosts if h.strip())

    def allows_any_address(self, host: str) -> bool:
        return host.strip("[]").lower() in self._allowed

    def check_url(self, url: str) -> None:
        """Raises RefusedUrl for a URL whose form alone rules it out."""
        parts = urlsplit(url)
        if parts.scheme.lower() not in SCHEMES:
            raise RefusedUrl(f"only http(s) images are fetched, not {parts.scheme or 'no'} scheme")
        if "@" in parts.netloc:
            raise RefusedUrl("image URLs may not carry user info (user@host)")
        host = parts.hostname
        if not host:
            raise RefusedUrl("image URL names no host")
        address = literal_address(host)
        if address is not None:
            self.check_address(host, address)

    def check_address(self, host: str, address: Address) -> None:
        if not self.allows_any_address(host) and not_public(address):
            raise RefusedUrl(
                f"{address} is not a public address (list the host in KEFU_MEDIA_ALLOW_HOSTS)"
            )


def public_only_session(policy: AddressPolicy, session: requests.Session | None = None) -> Any:
    """session (or a new one) whose every connection is checked where it lands, after DNS.

    Checking the connected peer, not a lookup made beforehand, also stops DNS rebinding. Proxies
    from the environment are ignored: through one, the peer would be the proxy.
    """
    session = session if session is not None else requests.Session()
    session.trust_env = False
    adapter = _PublicOnlyAdapter(policy)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _checked(base: type[HTTPConnection], policy: AddressPolicy) -> type[HTTPConnection]:
    class Checked(base):  # type: ignore[valid-type,misc]
        def _new_conn(self) -> socket.socket:
            sock: socket.socket = super()._new_conn()
            peer = ipaddress.ip_address(sock.getpeername()[0].split("%", 1)[0])
            try:
                policy.check_address(self.host, peer)
            except RefusedUrl:
                sock.close()
                raise
            return sock

    return Checked


class _PublicOnlyAdapter(HTTPAdapter):
    def __init__(self, policy: AddressPolicy) -> None:
        self._policy = policy
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        checked_http = _checked(HTTPConnection, self._policy)
        checked_https = _checked(HTTPSConnection, self._policy)
        self.poolmanager.pool_classes_by_scheme = {
            "http": type("PublicHTTPPool", (HTTPConnectionPool,), {"ConnectionCls": checked_http}),
            "https": type(
                "PublicHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": checked_https}
            ),
        }
