"""The access token shared by every worker on every host through the state store."""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable

from adapters.wechat_api.tokens import (
    REFRESH_MARGIN,
    STORE_RETRY_AFTER,
    TOKEN_LOCK_TIMEOUT,
    Fetch,
    HeldToken,
    IssuedToken,
    TokenCache,
    hold_token,
)
from domain.errors import DeliveryError, KefuError
from domain.ports import StateStore

log = logging.getLogger(__name__)


class SharedTokenCache:
    """The TokenStore kept in a StateStore, so all workers on all hosts share one token.

    The token sits under ``token:<appid>`` as JSON with wall-clock times, because processes
    compare them (hosts' clocks need only agree to well within `margin`). One worker fetches at
    a time under the lock of the same name; when less than `margin` is left, one worker renews
    it while the others keep using it. When the store fails, an in-process TokenCache stands in
    for `store_retry` seconds: a broken store never stops a send.
    """

    def __init__(
        self,
        store: StateStore,
        appid: str,
        clock: Callable[[], float] = time.time,
        margin: float = REFRESH_MARGIN,
        lock_timeout: float = TOKEN_LOCK_TIMEOUT,
        store_retry: float = STORE_RETRY_AFTER,
    ) -> None:
        self._store = store
        self._key = f"token:{appid}"
        self._clock = clock
        self._margin = margin
        self._lock_timeout = lock_timeout
        self._store_retry = store_retry
        self._fallback = TokenCache(clock, margin)
        self._store_down_until = -math.inf

    def get(self, fetch: Fetch) -> str:
        """A token believed valid, fetched by one worker at a time. Raises what fetch raises."""
        if self._clock() < self._store_down_until:
            return self._fallback.get(fetch)
        watched = _Watched(fetch)
        try:
            return self._shared(watched)
        except KefuError as failure:
            if failure is watched.error:
                raise
            self._store_failed(failure)
        return self._fallback.get(fetch)

    def invalidate(self, token: str) -> None:
        """Drop the shared token if it is still `token`; a replacement stays."""
        self._fallback.invalidate(token)
        if self._clock() < self._store_down_until:
            return
        try:
            # Compared even if the lock was not won in time (its holder is stuck): at worst a
            # replacement landing in between is dropped, which costs one fetch of the same token.
            with self._store.lock(self._key, self._lock_timeout):
                held = self._read()
                if held is not None and held.value == token:
                    self._store.delete(self._key)
        except KefuError as failure:
            self._store_failed(failure)

    def _shared(self, fetch: Fetch) -> str:
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
        log.warning("no access token after waiting %.1f s for another worker", self._lock_timeout)
        return self._fetch_and_publish(fetch, self._clock())

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

    def _fetch_and_publish(self, fetch: Fetch, since: float) -> str:
        held = hold_token(fetch(), since, self._margin)
        ttl = held.expires_at - self._clock()
        if ttl > 0:
            self._store.set(self._key, _encode(held), ttl)
        return held.value

    def _read(self) -> HeldToken | None:
        raw = self._store.get(self._key)
        held = None if raw is None else _decode(raw)
        if raw is not None and held is None:
            log.warning("ignoring an unreadable shared access token entry")
        return held if held is not None and self._clock() < held.expires_at else None

    def _store_failed(self, failure: KefuError) -> None:
        # The store's errors name the store (path, host), never the values kept in it.
        log.warning(
            "state store failed (%s); this worker keeps its own access token for %.0f s",
            failure,
            self._store_retry,
        )
        self._store_down_until = self._clock() + self._store_retry


class _Watched:
    """fetch, remembering what it raised, so its errors are told apart from the store's."""

    def __init__(self, fetch: Fetch) -> None:
        self._fetch = fetch
        self.error: BaseException | None = None

    def __call__(self) -> IssuedToken:
        try:
            return self._fetch()
        except BaseException as error:
            self.error = error
            raise


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
