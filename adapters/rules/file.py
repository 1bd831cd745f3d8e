"""Rules from a local JSON document (KEFU_RULES_FILE), re-read when the file changes."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from adapters.rules.errors import RulesFetchError
from adapters.rules.health import RulesStatus
from adapters.rules.last_good import LastGoodRules, decode, usable
from adapters.rules.refresh import Refresher, RefreshGate
from domain.reply_parsing import ImageCheck
from domain.rules import RuleSet
from domain.rules_document import ParsedRules

# What tells one version of the file from the next without reading it.
_Stamp = tuple[int, int, int]


class FileRuleSource:
    """Reads the file at most once per ttl seconds, and only when its stamp changed."""

    def __init__(
        self,
        path: Path,
        ttl: float,
        check_image: ImageCheck | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._path = path
        self._check_image = check_image
        self._state = LastGoodRules(str(path))
        self._seen: _Stamp | None = None
        self._broken: str | None = None
        # A local read is quick, so it runs inline; stat-ing a missing file is cheap, so no backoff.
        gate = RefreshGate(ttl, clock, first_retry=ttl, max_retry=ttl)
        self._refresher = Refresher(self._state, gate, self._refresh, spawn=_inline)

    def status(self) -> RulesStatus:
        """The rules in force and how the latest refresh went, for readiness checks."""
        return self._state.health.status

    def current(self) -> RuleSet:
        """The rules in force. Raises RulesUnavailable while the file never held any."""
        return self._refresher.current()

    def load(self, wait: bool = True) -> None:
        """Read the file now (at start-up; a local read is quick, so always waited for);
        never raises, a problem is logged."""
        self._refresher.load()

    def check(self) -> ParsedRules:
        """Read and parse the file now, for `kefu rules check`. Raises RulesFetchError."""
        return decode(self._read(), self._check_image, str(self._path))

    def _refresh(self) -> None:
        stamp = self._stamp()
        if stamp == self._seen:
            if self._broken is not None:  # still the same broken document: the episode goes on
                raise RulesFetchError(str(self._path), self._broken)
            return
        raw = self._read()
        self._seen, self._broken = stamp, None
        try:
            parsed = usable(decode(raw, self._check_image, str(self._path)), str(self._path))
        except RulesFetchError as exc:
            self._broken = exc.reason
            raise
        self._state.accept(parsed, str(self._path))

    def _stamp(self) -> _Stamp:
        try:
            info = os.stat(self._path)
        except OSError as exc:
            raise RulesFetchError(str(self._path), _why(exc)) from None
        # The inode changes when an editor or deploy replaces the file instead of rewriting it.
        return (info.st_mtime_ns, info.st_size, info.st_ino)

    def _read(self) -> bytes:
        try:
            return self._path.read_bytes()
        except OSError as exc:
            raise RulesFetchError(str(self._path), _why(exc)) from None


def _why(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def _inline(work: Callable[[], None]) -> None:
    work()
