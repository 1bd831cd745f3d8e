"""Which addresses are public: kefu's own table, so no answer hangs on the interpreter's patch.

`ipaddress`'s is_global and is_private changed in patch releases (CVE-2024-4032, fixed in
3.11.10: 192.0.0.8 and 6to4 addresses of loopback passed on 3.11.7). Nothing here uses them:
only network membership and bit arithmetic, which every 3.11 release does the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

Address = IPv4Address | IPv6Address

# IANA's IPv4 special-purpose registry (and multicast, and the rest of class E). Its few
# "globally reachable" entries (192.0.0.9 and .10 anycast, AS112 192.31.196/24 and 192.175.48/24,
# AMT 192.52.193/24) are refused too: none of them is where an image is served from.
_NOT_PUBLIC_V4 = tuple(
    IPv4Network(block)
    for block in (
        "0.0.0.0/8",  # "this network"
        "10.0.0.0/8",  # private
        "100.64.0.0/10",  # carrier-grade NAT
        "127.0.0.0/8",  # loopback
        "169.254.0.0/16",  # link-local, cloud metadata services
        "172.16.0.0/12",  # private
        "192.0.0.0/24",  # IETF protocol assignments: DS-Lite, 192.0.0.8 dummy, NAT64 discovery
        "192.0.2.0/24",  # documentation
        "192.31.196.0/24",  # AS112
        "192.52.193.0/24",  # AMT
        "192.88.99.0/24",  # 6to4 relay anycast (deprecated)
        "192.168.0.0/16",  # private
        "192.175.48.0/24",  # AS112 direct delegation
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",  # documentation
        "203.0.113.0/24",  # documentation
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, and 255.255.255.255 broadcast
    )
)

# Only global unicast space can be public; everything outside it (::1, ::, the IPv4-compatible
# ::/96, 100::/64 discard, 64:ff9b:1::/48 local NAT64, fc00::/7, fe80::/10, fec0::/10, ff00::/8
# and the unassigned rest) is refused, unless it embeds an IPv4 address (below).
_GLOBAL_UNICAST = IPv6Network("2000::/3")
# IANA's IPv6 special-purpose registry inside 2000::/3. All of 2001::/23 is refused: its
# globally reachable entries (PCP/TURN anycast, AMT, AS112, ORCHIDv2, drone remote ID) serve no
# images. Teredo (2001::/32) is judged by the addresses it embeds instead.
_NOT_PUBLIC_V6 = tuple(
    IPv6Network(block)
    for block in (
        "2001::/23",  # IETF protocol assignments (benchmarking 2001:2::/48, ORCHID, ...)
        "2001:db8::/32",  # documentation
        "2620:4f:8000::/48",  # AS112 direct delegation
        "3fff::/20",  # documentation
        "5f00::/16",  # segment routing SIDs
    )
)


@dataclass(frozen=True)
class _Embedding:
    """A range whose packets go to IPv4 addresses written inside the IPv6 one."""

    network: IPv6Network
    ipv4s: Callable[[int], tuple[int, ...]]


def _low32(value: int) -> tuple[int, ...]:
    return (value & 0xFFFFFFFF,)


_EMBEDDINGS = (
    _Embedding(IPv6Network("::ffff:0:0/96"), _low32),  # IPv4-mapped
    _Embedding(IPv6Network("::ffff:0:0:0/96"), _low32),  # IPv4-translated (SIIT)
    _Embedding(IPv6Network("64:ff9b::/96"), _low32),  # NAT64 well-known prefix
    # 6to4: 2002:AABB:CCDD::/48 carries AA.BB.CC.DD.
    _Embedding(IPv6Network("2002::/16"), lambda value: ((value >> 80) & 0xFFFFFFFF,)),
    # Teredo: the server's address in bits 32-63, the client's inverted in the last 32.
    _Embedding(
        IPv6Network("2001::/32"),
        lambda value: ((value >> 64) & 0xFFFFFFFF, ~value & 0xFFFFFFFF),
    ),
)


def is_public(address: Address) -> bool:
    """True only for an address on the public internet, however it is written."""
    if isinstance(address, IPv4Address):
        return not any(address in block for block in _NOT_PUBLIC_V4)
    bare = IPv6Address(int(address))  # without a %scope
    for embedding in _EMBEDDINGS:
        if bare in embedding.network:
            return all(is_public(IPv4Address(v4)) for v4 in embedding.ipv4s(int(bare)))
    return bare in _GLOBAL_UNICAST and not any(bare in block for block in _NOT_PUBLIC_V6)
