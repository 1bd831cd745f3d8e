"""Reading an HTTP body with a size cap and a deadline on the clock, however slowly it comes."""

from __future__ import annotations

import time
from collections.abc import Callable

import requests

_CHUNK = 64 * 1024


class BodyTooLarge(Exception):
    """The body is over the cap; `size` is the declared length when the server gave one."""

    def __init__(self, size: int | None = None) -> None:
        super().__init__(f"body over the cap ({size if size is not None else 'undeclared'})")
        self.size = size


class PastDeadline(Exception):
    """The body was still arriving when the deadline passed."""


def seconds_left(deadline: float, clock: Callable[[], float] = time.monotonic) -> float:
    """Seconds until deadline; raises PastDeadline when none are left."""
    left = deadline - clock()
    if left <= 0:
        raise PastDeadline
    return left


def read_bounded(
    response: requests.Response,
    max_bytes: int,
    deadline: float,
    read_timeout: float,
    clock: Callable[[], float] = time.monotonic,
) -> bytes:
    """The whole body of a streamed response. Raises BodyTooLarge, PastDeadline or OSError.

    A per-read timeout alone lets a server trickle a byte every few seconds forever: each wait
    for bytes here ends at the deadline, so the whole read does. A gzip or deflate body is
    decoded and the cap counts decoded bytes: urllib3 (>= 2.6) inflates at most one chunk per
    read, so a compression bomb is cut at the cap, never inflated whole.
    """
    declared = _content_length(response)
    if declared is not None and declared > max_bytes and not _encoded(response):
        raise BodyTooLarge(declared)
    body = bytearray()
    while True:
        left = seconds_left(deadline, clock)
        sock = getattr(getattr(response.raw, "connection", None), "sock", None)
        if sock is not None:
            sock.settimeout(min(read_timeout, left))
        try:
            chunk = response.raw.read1(_CHUNK, decode_content=True)
        except Exception:
            seconds_left(deadline, clock)  # a read cut short by the deadline says so
            raise
        if not chunk:
            return bytes(body)
        body += chunk
        if len(body) > max_bytes:
            raise BodyTooLarge


def _encoded(response: requests.Response) -> bool:
    return response.headers.get("Content-Encoding", "identity").strip().lower() != "identity"


def _content_length(response: requests.Response) -> int | None:
    try:
        return int(response.headers["Content-Length"])
    except (KeyError, ValueError):
        return None
