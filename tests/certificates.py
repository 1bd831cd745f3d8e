"""Self-signed certificates for tests: WeChat's platform certificate, nginx's TLS certificate."""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import NameOID


def self_signed_pem(
    key: CertificateIssuerPrivateKeyTypes,
    common_name: str,
    ip: str | None = None,
    dns: str | None = None,
) -> bytes:
    """A PEM certificate for key, valid from a day ago for 30 days, naming ip or dns when given."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
    )
    if ip is not None:
        san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))])
        builder = builder.add_extension(san, critical=False)
    if dns is not None:
        named = x509.SubjectAlternativeName([x509.DNSName(dns)])
        builder = builder.add_extension(named, critical=False)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def write_self_signed(
    cert: Path, key_file: Path, common_name: str, ip: str | None = None, dns: str | None = None
) -> None:
    """A new key and its self-signed certificate (see self_signed_pem), as a TLS server's PEM
    files."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert.write_bytes(self_signed_pem(key, common_name, ip=ip, dns=dns))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
