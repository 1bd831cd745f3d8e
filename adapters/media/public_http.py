"""HTTP that reaches public addresses only: the rules' image URLs must not reach kefu's network."""

from __future__ import annotations

import socket
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.utils import get_environ_proxies, select_proxy
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util.connection import create_connection

from adapters.media.address_policy import AddressPolicy
from adapters.media.public_addresses import Address

Proxies = Callable[[str], Mapping[str, str]]
"""url -> the proxies to use for it (requests' form: {"https": "http://proxy:3128"})."""


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
            self._policy.check_before_proxy(
                parts.hostname or "", parts.port or _PORTS[parts.scheme]
            )
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
