"""Why a URL could not be reached, as one line a person reads (not requests' nested repr)."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from urllib.parse import urlsplit

import requests


def why_unreachable(failure: requests.RequestException, url: str, timeout: float) -> str:
    """What went wrong reaching url: the name, the port, TLS, or the wait."""
    parts = urlsplit(url)
    host = parts.hostname or url
    where = f"{host}:{parts.port or (443 if parts.scheme == 'https' else 80)}"
    causes = list(_causes(failure))
    if isinstance(failure, requests.Timeout):
        return f"no answer from {where} within {timeout:g} s"
    if any(isinstance(cause, socket.gaierror) for cause in causes):
        return f"the name {host} does not resolve"
    if any(isinstance(cause, ConnectionRefusedError) for cause in causes):
        return f"connection refused: nothing listens on {where}"
    if isinstance(failure, requests.exceptions.SSLError):
        return f"TLS with {where} failed: {_tls_reason(causes)}"
    return f"cannot reach {where} ({type(failure).__name__})"


def _causes(failure: BaseException) -> Iterator[BaseException]:
    """failure and everything it wraps: urllib3 nests the OS error several levels down."""
    seen: set[int] = set()
    waiting: list[BaseException] = [failure]
    while waiting:
        cause = waiting.pop()
        if id(cause) in seen:
            continue
        seen.add(id(cause))
        yield cause
        nested = [*cause.args, getattr(cause, "reason", None), cause.__cause__, cause.__context__]
        waiting += [item for item in nested if isinstance(item, BaseException)]


def _tls_reason(causes: list[BaseException]) -> str:
    for cause in causes:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"certificate not trusted ({cause.verify_message})"
        if isinstance(cause, ssl.SSLError) and cause.reason:
            return str(cause.reason)
    return "the handshake failed"
