"""kefu's own table of public addresses, whatever the interpreter's ipaddress says."""

from __future__ import annotations

from ipaddress import ip_address

import pytest

from adapters.media.public_addresses import is_public

NOT_PUBLIC = [
    # Passed the check on Python 3.11.7 (CVE-2024-4032): 6to4 of loopback and link-local, and
    # the IPv4 dummy address.
    "2002:7f00:1::",
    "2002:a9fe:a9fe::",
    "192.0.0.8",
    # IANA's IPv4 special-purpose registry, multicast and class E
    "0.0.0.0",
    "0.1.2.3",
    "10.0.0.1",
    "100.64.0.1",
    "100.127.255.254",
    "127.0.0.1",
    "127.255.255.255",
    "169.254.169.254",
    "172.16.0.1",
    "172.31.255.255",
    "192.0.0.1",
    "192.0.0.9",
    "192.0.0.170",
    "192.0.2.1",
    "192.31.196.1",
    "192.52.193.1",
    "192.88.99.1",
    "192.168.1.1",
    "192.175.48.1",
    "198.18.0.1",
    "198.19.255.255",
    "198.51.100.7",
    "203.0.113.9",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    # IPv6: loopback, unspecified, ULA, link-local, site-local, multicast, discard, documentation
    "::1",
    "::",
    "fc00::1",
    "fd12:3456::1",
    "fe80::1",
    "fe80::1%2",
    "fec0::1",
    "ff02::1",
    "100::1",
    "2001:db8::1",
    "3fff::1",
    "5f00::1",
    "4000::1",
    # IETF protocol assignments in 2001::/23
    "2001:1::1",
    "2001:2::1",
    "2001:3::1",
    "2001:10::1",
    "2001:20::1",
    "2001:1ff::1",
    # IPv4 written inside IPv6: mapped, translated, compatible, NAT64, local NAT64, 6to4, Teredo
    "::ffff:127.0.0.1",
    "::ffff:10.1.2.3",
    "::ffff:0:169.254.169.254",
    "::127.0.0.1",
    "::8.8.8.8",
    "64:ff9b::7f00:1",
    "64:ff9b::a9fe:a9fe",
    "64:ff9b:1::808:808",
    "2002:0a00:0001::1",
    "2002:c000:0208::",
    "2001:0:7f00:1::ffff:ffff",  # Teredo server 127.0.0.1
    "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo client 127.0.0.1 (inverted)
    "2620:4f:8000::1",
]

PUBLIC = [
    "8.8.8.8",
    "1.1.1.1",
    "93.184.215.14",
    "100.63.255.255",
    "100.128.0.0",
    "172.32.0.1",
    "192.0.1.1",
    "198.20.0.1",
    "223.255.255.255",
    "2606:4700:4700::1111",
    "2400:cb00::1",
    "2001:200::1",  # just past 2001::/23
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",
    "2002:0808:0808::1",
    "2001:0:4136:e378:8000:63bf:f7f7:f7f7",  # Teredo server 65.54.227.120, client 8.8.8.8
]


@pytest.mark.parametrize("text", NOT_PUBLIC)
def test_special_purpose_and_embedded_private_addresses_are_not_public(text: str) -> None:
    assert not is_public(ip_address(text))


@pytest.mark.parametrize("text", PUBLIC)
def test_public_addresses_are_public_however_they_are_written(text: str) -> None:
    assert is_public(ip_address(text))
