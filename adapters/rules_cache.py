"""What both rule sources share: decoding, the last good rules, and when to refresh them."""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable

from domain.errors import RulesDocumentError, RulesUnavailable
from domain.rules import RuleSet
from domain.rules_document import ImageCheck, ParsedRules, RuleProblem, parse_rules

log = logging.getLogger(__name__)

# Runs a refresh somewhere: a daemon thread in production, inline in tests.
Spawn = Callable[[Callable[[], None]], None]


def start_daemon(work: Callable[[], None]) -> None:
    threading.Thread(target=work, name="kefu-rules-refresh", daemon=True).start()


class RulesFetchError(RulesUnavailable):
    """The rules document at `source` (a URL or a path) could not be fetched or read."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"rules from {source} unavailable: {reason}")
        self.source = source
        self.reason = reason


def decode(raw: bytes, check_image: ImageCheck | None, source: str) -> ParsedRules:
    """A document's bytes parsed key by key; RulesFetchError when it is no JSON object."""
    try:
        return parse_rules(json.loads(raw), check_image)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError
        raise RulesFetchError(source, f"not JSON ({exc})") from None
    except RulesDocumentError as exc:
        raise RulesFetchError(source, str(exc)) from None


def usable(parsed: ParsedRules, source: str) -> ParsedRules:
    """parsed, unless nothing in it can answer: more likely a CMS error envelope than intent."""
    if not rule_count(parsed.rules):
        rejected = len(parsed.problems)
        raise RulesFetchError(source, f"no usable rules ({rejected} rejected)")
    return parsed


def rule_count(rules: RuleSet) -> int:
    """Accepted keys, so that this plus the rejected ones is every key of the document."""
    return len(rules.keywords) + len(rules.patterns) + bool(rules.default) + bool(rules.enter)


class LastGoodRules:
    """The rules in force, kept through failures; logs once per version and per failure episode."""

    def __init__(self, source: str) -> None:
        self._source = source
        self._rules: RuleSet | None = None
        self._logged: tuple[str, tuple[RuleProblem, ...]] | None = None
        self._failing = False
        self._why = "not loaded yet"

    @property
    def rules(self) -> RuleSet | None:
        return self._rules

    def current(self) -> RuleSet:
        rules = self._rules
        if rules is None:
            raise RulesUnavailable(f"no rules loaded from {self._source}: {self._why}")
        return rules

    def accept(self, parsed: ParsedRules, origin: str) -> None:
        self._rules = parsed.rules
        version = parsed.rules.version
        if self._logged == (version, parsed.problems):
            return
        self._logged = (version, parsed.problems)
        count, rejected = rule_count(parsed.rules), len(parsed.problems)
        log.info(
            "rules version %s: %d keywords, %d rejected (%s)", version, count, rejected, origin
        )
        for problem in parsed.problems:
            log.warning("rules version %s rejected %s", version, problem)

    def succeeded(self) -> None:
        if self._failing:
            self._failing = False
            log.info("rules from %s available again", self._source)

    def fail(self, reason: str) -> None:
        self._why = reason
        if self._failing:
            return
        self._failing = True
        if self._rules is None:
            log.error("rules from %s unavailable: %s; no rules in force", self._source, reason)
        else:
            version = self._rules.version
            log.warning(
                "rules from %s unavailable: %s; keeping version %s", self._source, reason, version
            )


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
    """Runs a source's refresh when due: inline until rules exist, afterwards behind callers."""

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
            if self._state.rules is None:
                self._run()
            else:
                self._start()
        return self._state.current()

    def load(self) -> None:
        if self._gate.claim(force=True):
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
            self._gate.finish(ok=False, have_rules=True)

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
