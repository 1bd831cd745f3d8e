"""The access token shared by every worker on every host through the state store."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable

from adapters.state.locks import LockingStore
from adapters.wechat_api.tokens import (
    REFRESH_MARGIN,
    TOKEN_LOCK_TIMEOUT,
    Fetch,
    HeldToken,
    IssuedToken,
    TokenCache,
    hold_token,
)
from domain.errors import DeliveryError

log = logging.getLogger(__name__)

TOKEN_KEY = "token"


class SharedTokenCache:
    """The TokenStore kept in a StateStore, so all workers on all hosts share one token.

    The token sits under ``token`` (the container scopes every key by AppID) as JSON with
    wall-clock times, because processes compare them (hosts' clocks need only agree to well
    within `margin`). One worker fetches at
    a time under the lock of the same name; when less than `margin` is left, one worker renews
    it while the others keep using it. The store is guarded (adapters/state/guard.py): when it
    fails it looks empty and no lock is won, and this worker's own TokenCache stands in.
    """

    def __init__(
        self,
        store: LockingStore,
        clock: Callable[[], float] = time.time,
        margin: float = REFRESH_MARGIN,
        lock_timeout: float = TOKEN_LOCK_TIMEOUT,
    ) -> None:
        self._store = store
        self._key = TOKEN_KEY
        self._clock = clock
        self._margin = margin
        self._lock_timeout = lock_timeout
        self._own = TokenCache(clock, margin)

    def get(self, fetch: Fetch) -> str:
        """A token believed valid, fetched by one worker at a time. Raises what fetch raises."""
        held = self._read()
        if held is not None and self._clock() < held.refresh_at:
            return held.value
        # A renewal waits for nobody: the current token still works, so a worker that does
        # not win the lock at once keeps using it while the winner fetches.
        wait = 0.0 if held is not None else self._lock_timeout
        with self._store.lock(self._key, wait) as won:
            if won:
                return self._fetch_unless_fresh(fetch)
        if held is not None:
            return held.value
        fetched = self._read()
        if fetched is not None:
            return fetched.value
        # No shared token and no lock: the store is down, or a holder is stuck. This worker's
        # own copy stands in, fetched once per lifetime rather than once per send.
        return self._own.get(lambda: self._fetch_alone(fetch))

    def invalidate(self, token: str) -> None:
        """Drop the shared token if it is still `token`; a replacement stays."""
        self._own.invalidate(token)
        # Compared even if the lock was not won in time (its holder is stuck): at worst a
        # replacement landing in between is dropped, which costs one fetch of the same token.
        with self._store.lock(self._key, self._lock_timeout):
            held = self._read()
            if held is not None and held.value == token:
                self._store.delete(self._key)

    def _fetch_unless_fresh(self, fetch: Fetch) -> str:
        # Another worker may have fetched while this one waited for the lock.
        held, now = self._read(), self._clock()
        if held is not None and now < held.refresh_at:
            return held.value
        try:
            return self._fetch_and_publish(fetch, now)
        except DeliveryError as failure:
            if held is None or self._clock() >= held.expires_at:
                raise
            log.warning("access token renewal failed, using the current one: %s", failure)
            return held.value

    def _fetch_alone(self, fetch: Fetch) -> IssuedToken:
        # INFO: a store that is down was already reported by its guard, once.
        log.info("no shared access token within %.1f s; fetching one here", self._lock_timeout)
        issued = fetch()
        held = hold_token(issued, self._clock(), self._margin)
        self._publish(held)
        return issued

    def _fetch_and_publish(self, fetch: Fetch, since: float) -> str:
        held = hold_token(fetch(), since, self._margin)
        self._publish(held)
        return held.value

    def _publish(self, held: HeldToken) -> None:
        ttl = held.expires_at - self._clock()
        if ttl > 0:
            self._store.set(self._key, _encode(held), ttl)

    def _read(self) -> HeldToken | None:
        raw = self._store.get(self._key)
        held = None if raw is None else _decode(raw)
        if raw is not None and held is None:
            log.warning("ignoring an unreadable shared access token entry")
        return held if held is not None and self._clock() < held.expires_at else None


def _encode(held: HeldToken) -> str:
    fields = {"token": held.value, "refresh_at": held.refresh_at, "expires_at": held.expires_at}
    return json.dumps(fields, separators=(",", ":"))


def _decode(raw: str) -> HeldToken | None:
    try:
        fields = json.loads(raw)
        value, refresh_at, expires_at = fields["token"], fields["refresh_at"], fields["expires_at"]
    except (ValueError, TypeError, KeyError):
        return None
    times_ok = all(isinstance(t, int | float) for t in (refresh_at, expires_at))
    return HeldToken(value, refresh_at, expires_at) if isinstance(value, str) and times_ok else None
