"""When the rules are refreshed: one refresh at a time, inline or behind callers, backing off."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable

from adapters.rules.errors import RulesFetchError
from adapters.rules.last_good import LastGoodRules
from domain.rules import RuleSet

log = logging.getLogger(__name__)

# Runs a refresh somewhere: a daemon thread in production, inline in tests.
Spawn = Callable[[Callable[[], None]], None]


def start_daemon(work: Callable[[], None]) -> None:
    threading.Thread(target=work, name="kefu-rules-refresh", daemon=True).start()


class RefreshGate:
    """When the next refresh is due, and a lock so that only one runs at a time."""

    def __init__(
        self,
        ttl: float,
        clock: Callable[[], float] = time.monotonic,
        first_retry: float = 1.0,
        max_retry: float = 60.0,
    ) -> None:
        self._ttl, self._clock = ttl, clock
        self._first_retry, self._max_retry = first_retry, max_retry
        self._retry = first_retry
        self._due = -math.inf
        self._lock = threading.Lock()

    def claim(self, *, force: bool = False) -> bool:
        """True when the caller is to refresh now; it must then call finish(), from any thread."""
        if not force and self._clock() < self._due:
            return False
        if not self._lock.acquire(blocking=False):
            return False
        if not force and self._clock() < self._due:  # another refresh finished meanwhile
            self._lock.release()
            return False
        return True

    def finish(self, *, ok: bool, have_rules: bool) -> None:
        if ok or have_rules:
            self._retry = self._first_retry if ok else self._retry
            self._due = self._clock() + self._ttl
        else:  # nothing to answer with: try again soon, but back off from a source that is down
            self._due = self._clock() + self._retry
            self._retry = min(self._retry * 2, self._max_retry)
        self._lock.release()


class Refresher:
    """Runs a source's refresh when due, behind callers (through `spawn`): a caller never waits
    for a source, not even before any rules exist (it is told there are none)."""

    def __init__(
        self,
        state: LastGoodRules,
        gate: RefreshGate,
        refresh: Callable[[], None],
        spawn: Spawn = start_daemon,
    ) -> None:
        self._state, self._gate, self._refresh, self._spawn = state, gate, refresh, spawn

    def current(self) -> RuleSet:
        if self._gate.claim():
            self._start()
        return self._state.current()

    def load(self, *, behind: bool = False) -> None:
        """Refresh now: here, or with `behind` from a spawned thread."""
        if self._gate.claim(force=True):
            if behind:
                self._start()
            else:
                self._run()

    def tick(self) -> None:
        """Refresh here and now if one is due and none is running."""
        if self._gate.claim():
            self._run()

    def watch(self, every: float) -> threading.Event:
        """Tick every `every` seconds from a daemon thread until the returned event is set.

        Pushes alone start refreshes only when they come; after a quiet hour the first push
        would still get the old rules. The watcher keeps a CMS change in force within the TTL.
        """
        stop = threading.Event()

        def loop() -> None:
            while not stop.wait(every):
                self.tick()

        threading.Thread(target=loop, name="kefu-rules-watch", daemon=True).start()
        return stop

    def _start(self) -> None:
        try:
            self._spawn(self._run)
        except Exception:  # e.g. no thread can start at interpreter shutdown
            log.exception("could not start a rules refresh")
            self._gate.finish(ok=False, have_rules=self._state.rules is not None)

    def _run(self) -> None:
        ok = False
        try:
            self._refresh()
            ok = True
            self._state.succeeded()
        except RulesFetchError as exc:
            self._state.fail(exc.reason)
        except Exception as exc:  # a bug must not leave the gate locked or kill the worker
            log.exception("refreshing rules failed")
            self._state.fail(f"unexpected {type(exc).__name__}")
        finally:
            self._gate.finish(ok=ok, have_rules=self._state.rules is not None)
