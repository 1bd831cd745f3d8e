"""HTTP that reaches public addresses only: the rules' image URLs must not reach kefu's network."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.utils import get_environ_proxies, select_proxy
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util.connection import create_connection

from adapters.media.public_addresses import Address, is_public

SCHEMES = ("http", "https")
# One text for every address refused, named or numeric, port open or closed: it tells an editor
# what to do and an outsider nothing about kefu's network.
NOT_PUBLIC = "image URL leads to an address that is not public (see KEFU_MEDIA_ALLOW_HOSTS)"
UNRESOLVED = "image host name does not resolve"

Resolver = Callable[[str, int], Sequence[Address]]
"""(host, port) -> the addresses the host name stands for; raises OSError when it has none."""
Proxies = Callable[[str], Mapping[str, str]]
"""url -> the proxies to use for it (requests' form: {"https": "http://proxy:3128"})."""


class RefusedUrl(Exception):
    """An image URL kefu will not fetch: its form, or the address it leads to."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def system_resolver(host: str, port: int) -> list[Address]:
    """The system's answer for host, every address once, in its order."""
    found: dict[Address, None] = {}
    for *_, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        found[ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])] = None
    return list(found)


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

    def __init__(self, allow_hosts: Iterable[str] = (), resolver: Resolver = system_resolver):
        self._allowed = frozenset(h.strip().strip("[]").lower() for h in allow_hosts if h.strip())
        self._resolver = resolver

    def check_url(self, url: str) -> None:
        """Raises RefusedUrl for a URL whose form alone rules it out."""
        parts = urlsplit(url)
        if parts.scheme.lower() not in SCHEMES:
            raise RefusedUrl(f"only http(s) images are fetched, not {parts.scheme or 'no'} scheme")
        if "@" in parts.netloc:
            raise RefusedUrl("image URLs may not carry user info (user@host)")
        if not parts.hostname:
            raise RefusedUrl("image URL names no host")

    def addresses(self, host: str, port: int) -> Sequence[Address]:
        """Where host may be reached: resolved once, every address checked. Raises RefusedUrl."""
        literal = literal_address(host)
        try:
            found = [literal] if literal is not None else self._resolver(host, port)
        except (OSError, UnicodeError):
            raise RefusedUrl(UNRESOLVED) from None
        if not found:
            raise RefusedUrl(UNRESOLVED)
        # One private answer refuses the name: a resolver mixing them in is rebinding.
        if not self._allows_any_address(host) and not all(is_public(a) for a in found):
            raise RefusedUrl(NOT_PUBLIC)
        return found

    def _allows_any_address(self, host: str) -> bool:
        return host.strip("[]").lower() in self._allowed


def public_only_session(
    policy: AddressPolicy,
    session: requests.Session | None = None,
    proxies: Proxies = get_environ_proxies,
) -> Any:
    """session (or a new one) that resolves each host once, checks it, and connects there.

    The connection goes to the address that was checked, so a name cannot resolve to a public
    address for the check and a private one for the connect (DNS rebinding). Through a proxy
    (HTTPS_PROXY, HTTP_PROXY, NO_PROXY) the URL's host is checked before the proxy is asked.
    """
    session = session if session is not None else requests.Session()
    session.trust_env = False  # no ~/.netrc passwords for image hosts; proxies come from `proxies`
    adapter = _PublicOnlyAdapter(policy, proxies)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _connect(conn: HTTPConnection, addresses: Sequence[Address]) -> socket.socket:
    failure: OSError | None = None
    for address in addresses:
        try:
            return create_connection(
                (str(address), conn.port or 0),
                conn.timeout,
                source_address=conn.source_address,
                socket_options=conn.socket_options,
            )
        except TimeoutError as exc:
            raise ConnectTimeoutError(conn, f"connecting to {conn.host} timed out") from exc
        except OSError as exc:
            failure = exc
    raise NewConnectionError(conn, f"Failed to establish a new connection: {failure}")


def _checked(base: type[HTTPConnection], policy: AddressPolicy) -> type[HTTPConnection]:
    class Checked(base):  # type: ignore[valid-type,misc]
        def _new_conn(self) -> socket.socket:
            # self.host stays the name: the Host header, TLS SNI and the certificate check use it.
            return _connect(self, policy.addresses(self._dns_host, self.port))

    return Checked


class _PublicOnlyAdapter(HTTPAdapter):
    def __init__(self, policy: AddressPolicy, proxies: Proxies) -> None:
        self._policy = policy
        self._proxies = proxies
        super().__init__(max_retries=0)

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        url = request.url or ""
        kwargs["proxies"] = proxies = dict(self._proxies(url))
        if select_proxy(url, proxies):
            # The proxy looks the name up again itself: docs/operations.md says what it must refuse.
            parts = urlsplit(url)
            self._policy.addresses(parts.hostname or "", parts.port or _PORTS[parts.scheme])
        return super().send(request, *args, **kwargs)

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


_PORTS = {"http": 80, "https": 443}
