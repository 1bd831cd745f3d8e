"""Which image URLs and hosts may be fetched: the form of the URL, and every address of its host."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable, Sequence
from urllib.parse import urlsplit

from adapters.media.public_addresses import Address, is_public

SCHEMES = ("http", "https")
# One text for every address refused, named or numeric, port open or closed: it tells an editor
# what to do and an outsider nothing about kefu's network.
NOT_PUBLIC = "image URL leads to an address that is not public (see KEFU_MEDIA_ALLOW_HOSTS)"
UNRESOLVED = "image host name does not resolve"

Resolver = Callable[[str, int], Sequence[Address]]
"""(host, port) -> the addresses the host name stands for; raises OSError when it has none."""


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

    def check_before_proxy(self, host: str, port: int) -> None:
        """What addresses() checks, for a host a proxy will look up itself. Raises RefusedUrl.

        A host allowed any address needs no lookup here: only the proxy may be able to resolve it.
        """
        if not self._allows_any_address(host):
            self.addresses(host, port)

    def _allows_any_address(self, host: str) -> bool:
        return host.strip("[]").lower() in self._allowed
