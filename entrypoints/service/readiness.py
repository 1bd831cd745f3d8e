"""/readyz and `kefu status`: whether pushes can be taken and answered now, check by check."""

from __future__ import annotations

import ipaddress
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar

import falcon

from adapters.process import current_pid
from adapters.rules.health import RulesStatus
from adapters.state.guard import GuardedStateStore
from adapters.wechat_api.advice import advice_for
from adapters.wechat_api.errors import failure_code
from adapters.wechat_push.previous_use import last_previous_use
from domain.errors import DeliveryError

T = TypeVar("T")
# /readyz may be polled every few seconds: a failed token fetch is not repeated sooner than this.
TOKEN_RECHECK = 30.0
PROBE_EVERY = 5.0
"""Seconds between probe writes to a store: /readyz stays cheap however often it is asked."""
PROBE_TTL = 60.0


@dataclass(frozen=True)
class Check:
    """One check: its name, whether it passes, what was found, and what to do when it fails."""

    name: str
    ok: bool
    detail: str
    action: str = ""


class Throttled(Generic[T]):
    """A probe run at most once every `every` seconds; its latest result in between."""

    def __init__(
        self,
        probe: Callable[[], T],
        every: float = PROBE_EVERY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._probe, self._every, self._clock = probe, every, clock
        self._mutex = threading.Lock()
        self._latest: tuple[float, T] | None = None

    def __call__(self) -> T:
        with self._mutex:
            now = self._clock()
            if self._latest is None or now - self._latest[0] >= self._every:
                self._latest = (now, self._probe())
            return self._latest[1]


class RulesWithStatus(Protocol):
    def status(self) -> RulesStatus: ...


class Readiness:
    """Runs the checks; ready when every one passes. Nothing it reports is a secret."""

    def __init__(
        self,
        rules: RulesWithStatus,
        state: GuardedStateStore,
        store_name: str,
        check_token: Callable[[], None],
        clock: Callable[[], float] = time.time,
        previous: tuple[str, ...] = (),
        more: Callable[[], list[Check]] = list,
        previous_until: float | None = None,
    ) -> None:
        """previous: the KEFU_*_PREVIOUS settings that are set, during a rotation, refused after
        previous_until (KEFU_ROTATION_UNTIL); more: further checks (reply queue, senders)."""
        self._rules, self._state, self._store_name = rules, state, store_name
        self._check_token, self._clock, self._previous = check_token, clock, previous
        self._more = more
        self._previous_until = previous_until
        self._state_written = Throttled(self._write_state)
        self._token_lock = threading.Lock()
        self._token: tuple[float, Check] | None = None

    def checks(self) -> list[Check]:
        checks = [self._rules_check(), self._state_check(), *self._more(), self._token_check()]
        if self._previous:
            checks.append(self._previous_check())
        return checks

    def report(self) -> dict[str, Any]:
        checks = self.checks()
        return {
            "ready": all(c.ok for c in checks),
            "checks": {c.name: {k: v for k, v in asdict(c).items() if k != "name"} for c in checks},
        }

    def _rules_check(self) -> Check:
        status = self._rules.status()
        failing = f"; the latest refresh failed: {status.failing}" if status.failing else ""
        if status.version is None:
            action = "fix the rules source (`kefu rules check` shows what is wrong)"
            return Check("rules", False, f"no rules loaded from {status.source}{failing}", action)
        age = "" if status.fetched_at is None else f", fetched {self._age(status.fetched_at)} ago"
        keys = f"{status.keys} keys, {status.rejected} rejected"
        return Check("rules", True, f"version {status.version}: {keys}{age}{failing}")

    def _write_state(self) -> bool:
        """A write read back: a store that answers reads but takes no writes is not ready."""
        key, written = f"readiness-probe:{current_pid()}", uuid.uuid4().hex
        self._state.set(key, written, PROBE_TTL)
        return self._state.get(key) == written

    def _state_check(self) -> Check:
        # Between probes, any call that failed (a push's) fails the check at once.
        if self._state_written() and self._state.available:
            return Check("state_store", True, f"{self._store_name} reachable and writable")
        why = self._state.last_failure or "unavailable"
        action = f"make {self._store_name} reachable; until then retries may be answered twice"
        return Check("state_store", False, f"{self._store_name}: {why}", action)

    def _token_check(self) -> Check:
        with self._token_lock:
            now = self._clock()
            if self._token is not None and not self._token[1].ok:
                checked_at, check = self._token
                if now - checked_at < TOKEN_RECHECK:
                    return check
            check = self._fetch_token_check()
            self._token = (now, check)
            return check

    def _fetch_token_check(self) -> Check:
        try:
            self._check_token()
        except DeliveryError as failure:
            code = failure_code(failure)
            return Check("access_token", False, failure.reason, advice_for(code))
        return Check("access_token", True, "an access token is at hand")

    def _previous_check(self) -> Check:
        """Never fails: whether previous credentials still open pushes, or for how long not."""
        use = last_previous_use(self._state)
        names = " and ".join(self._previous)
        until = self._previous_until
        if until is not None and self._clock() > until:
            since = datetime.fromtimestamp(until, UTC).isoformat(timespec="seconds")
            detail = f"{names} refused since {since} (KEFU_ROTATION_UNTIL): remove them"
        elif use is None:
            detail = f"{names} set, but no push was opened with them: they can be removed"
        elif self._clock() - use.at < 3600:
            detail = f"{use.which} opened a push {self._age(use.at)} ago: still in use"
        else:
            detail = f"{use.which} unused for {use.hours_ago(self._clock()):.0f} h"
        return Check("previous_credentials", True, detail)

    def _age(self, since: float) -> str:
        return age(self._clock() - since)


def age(seconds: float) -> str:
    """A duration as a person reads it: 45 s, 12 min."""
    whole = max(0, int(seconds))
    return f"{whole} s" if whole < 120 else f"{whole // 60} min"


class ReadinessResource:
    """GET /readyz: 200 when ready, else 503; the checks only for a caller on this host.

    The checks name the state folder, the Redis host and port and the CMS address, which are no
    business of whoever a proxy lets through: others get `{"ready": ...}` and the status code,
    all a probe needs. (The contract has no token setting for it, so loopback it is.)
    """

    def __init__(self, readiness: Readiness) -> None:
        self._readiness = readiness

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        report = self._readiness.report()
        resp.status = falcon.HTTP_200 if report["ready"] else falcon.HTTP_503
        resp.media = report if from_this_host(req) else {"ready": report["ready"]}


def from_this_host(req: falcon.Request) -> bool:
    """True for a request from loopback, and, through a proxy on this host (nginx), whose
    client was on loopback too: the proxy appends the address it saw to X-Forwarded-For."""
    forwarded = req.get_header("X-Forwarded-For")
    client = forwarded.split(",")[-1] if forwarded else req.remote_addr
    return _is_loopback(req.remote_addr) and _is_loopback(client)


def _is_loopback(address: str | None) -> bool:
    try:
        return ipaddress.ip_address((address or "").strip()).is_loopback
    except ValueError:
        return False
