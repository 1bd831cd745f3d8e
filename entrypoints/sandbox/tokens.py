"""The access tokens the WeChat sandbox has issued, and the errcode each one gets now."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

TOKEN_LIFETIME = 7200
# NOTE: WeChat renews a stable token 5 min before expiry and replaced /cgi-bin/token tokens keep
# working for 5 min; both overlaps are this long.
OVERLAP = 300


@dataclass(frozen=True)
class _Token:
    expires_at: float
    late_errcode: int  # 42001 once it ran out, 40001 once a newer /cgi-bin/token replaced it


class SandboxTokens:
    """Stable and /cgi-bin/token tokens, safe to share between the threads of a threaded server."""

    def __init__(self, clock: Callable[[], float], new_id: Callable[[], str]) -> None:
        self._clock, self._new_id = clock, new_id
        self._lock = threading.Lock()
        self._tokens: dict[str, _Token] = {}
        self._stable: str | None = None
        self._plain: str | None = None

    def issue_stable(self, force_refresh: bool) -> tuple[str, int]:
        """The stable token and its remaining seconds; a new one when forced or nearly expired."""
        with self._lock:
            now = self._clock()
            stable = self._stable or ""
            if force_refresh:
                self._tokens.pop(stable, None)
            current = self._tokens.get(stable)
            if current is None or current.expires_at - now <= OVERLAP:
                stable = self._stable = self._issue(now)
                current = self._tokens[stable]
            return stable, int(current.expires_at - now)

    def issue_plain(self) -> tuple[str, int]:
        """A new /cgi-bin/token token; the one it replaces stays valid OVERLAP seconds more."""
        with self._lock:
            now = self._clock()
            old = self._tokens.get(self._plain or "")
            if self._plain is not None and old is not None:
                ends = min(old.expires_at, now + OVERLAP)
                self._tokens[self._plain] = _Token(ends, 40001)
            self._plain = self._issue(now)
            return self._plain, TOKEN_LIFETIME

    def _issue(self, now: float) -> str:
        token = self._new_id()
        self._tokens[token] = _Token(now + TOKEN_LIFETIME, 42001)
        return token

    def check(self, token: str | None) -> int:
        """0 for a token in force, else the errcode WeChat gives for it."""
        if not token:
            return 41001
        with self._lock:
            known = self._tokens.get(token)
        if known is None:
            return 40001
        return known.late_errcode if self._clock() >= known.expires_at else 0

    def revoke(self) -> None:
        """Forget every token, as if another party had force-refreshed."""
        with self._lock:
            self._tokens.clear()
            self._stable = self._plain = None
