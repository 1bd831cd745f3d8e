"""WeChat access tokens: what WeChat issued, and the per-process cache of one."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from domain.errors import DeliveryError

log = logging.getLogger(__name__)

# NOTE: stable_token hands out a new token 5 minutes before the old one expires (reference
# section 9), so asking again inside that window gets the successor, not the same token.
REFRESH_MARGIN = 300.0
TOKEN_LOCK_TIMEOUT = 2.0
"""Seconds a worker waits for another one's fetch: a normal stable_token call takes well under 1,
and a lock held by someone stuck must not cost every push much more than that."""


@dataclass(frozen=True)
class IssuedToken:
    """An access token as WeChat issued it; the value never shows in a repr."""

    value: str = field(repr=False)
    expires_in: float


Fetch = Callable[[], IssuedToken]


class TokenStore(Protocol):
    """Where access tokens are kept between calls: this process, or the shared state store."""

    def get(self, fetch: Fetch) -> str:
        """A token believed valid, calling fetch when none is. Raises what fetch raises."""
        ...

    def invalidate(self, token: str) -> None:
        """WeChat rejected token: forget it, unless another one has replaced it already."""
        ...


@dataclass(frozen=True)
class HeldToken:
    value: str = field(repr=False)
    refresh_at: float
    expires_at: float


def hold_token(issued: IssuedToken, since: float, margin: float) -> HeldToken:
    # Timed from before the request, so the token is never trusted past its real expiry;
    # a short-lived token is renewed halfway rather than on every call.
    lifetime = issued.expires_in
    renew_after = lifetime - min(margin, lifetime / 2)
    return HeldToken(issued.value, since + renew_after, since + lifetime)


class TokenCache:
    """The in-process TokenStore, safe to share between a worker's threads."""

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, margin: float = REFRESH_MARGIN
    ) -> None:
        self._clock = clock
        self._margin = margin
        self._lock = threading.Lock()
        self._held: HeldToken | None = None

    def get(self, fetch: Fetch) -> str:
        # Fetching under the lock is the point: threads that wait reuse the token one fetched.
        with self._lock:
            now = self._clock()
            held = self._held
            if held is not None and now < held.refresh_at:
                return held.value
            try:
                issued = fetch()
            except DeliveryError as failure:
                if held is None or now >= held.expires_at:
                    raise
                log.warning("access token refresh failed, using the current one: %s", failure)
                return held.value
            self._held = hold_token(issued, now, self._margin)
            return issued.value

    def invalidate(self, token: str) -> None:
        with self._lock:
            if self._held is not None and self._held.value == token:
                self._held = None
