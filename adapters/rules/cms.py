"""Rules from the CMS over HTTP: conditional GETs, one refresh at a time, a saved copy on disk."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import requests

from adapters.bounded_read import BodyTooLarge, PastDeadline, read_bounded
from adapters.rules.errors import RulesFetchError
from adapters.rules.health import RulesStatus
from adapters.rules.last_good import LastGoodRules, decode, usable
from adapters.rules.refresh import Refresher, RefreshGate, Spawn, start_daemon
from adapters.rules.saved import SavedDocument, Validators
from adapters.timeouts import HTTP_TIMEOUT
from domain.reply_parsing import ImageCheck
from domain.rules import RuleSet
from domain.rules_document import ParsedRules

log = logging.getLogger(__name__)

MAX_DOCUMENT_BYTES = 4 * 1024 * 1024
"""A rules document is a few KiB; over this, the CMS is broken (or hostile) and the last good
rules stay in force."""
FETCH_SECONDS = 15.0
"""The whole fetch, however slowly the CMS sends bytes."""


@dataclass(frozen=True)
class _Fetched:
    status: int
    body: bytes
    validators: Validators


class HttpCmsRuleSource:
    """The CMS document, refreshed behind callers every ttl seconds, last good copy kept."""

    def __init__(
        self,
        url: str,
        ttl: float,
        state_dir: Path | None,
        check_image: ImageCheck | None = None,
        session: requests.Session | None = None,
        timeout: float | tuple[float, float] = HTTP_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
        spawn: Spawn = start_daemon,
        keep_fresh: bool = False,
        max_bytes: int = MAX_DOCUMENT_BYTES,
        max_seconds: float = FETCH_SECONDS,
        headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        self._url, self._where = url, _without_secrets(url)
        self._headers = dict(headers)  # never logged: they may carry the CMS's credentials
        self._ttl, self._keep_fresh = ttl, keep_fresh
        self._watching: threading.Event | None = None
        self._check_image = check_image
        self._session = session or requests.Session()
        self._timeout = timeout
        self._max_bytes, self._max_seconds = max_bytes, max_seconds
        self._saved = SavedDocument(state_dir, url) if state_dir is not None else None
        self._validators = Validators()
        self._restored = False
        self._state = LastGoodRules(self._where)
        self._refresher = Refresher(self._state, RefreshGate(ttl, clock), self._refresh, spawn)

    def status(self) -> RulesStatus:
        """The rules in force and how the latest refresh went, for readiness checks."""
        return self._state.health.status

    def current(self) -> RuleSet:
        """The rules in force; never waits for a refresh once some are. Raises RulesUnavailable."""
        return self._refresher.current()

    def load(self, wait: bool = False) -> None:
        """Load the saved copy and fetch the CMS (at start-up); never raises, logs.

        The fetch runs behind, so a hanging CMS never holds up a worker's start (pushes then
        wait for the rules in the queue); with `wait`, the caller waits for it (a command
        that reports on the rules once). With keep_fresh, a daemon thread then refreshes every
        ttl seconds, pushes or not.
        """
        self._restore_once()
        self._refresher.load(behind=not wait)
        if self._keep_fresh and self._watching is None:
            # NOTE: at least 1 s apart, so KEFU_RULES_TTL=0 (fetch on every push) cannot spin.
            self._watching = self._refresher.watch(max(self._ttl, 1.0))

    def close(self) -> None:
        """Stop the refresh thread, if one runs, and close the connection pool."""
        if self._watching is not None:
            self._watching.set()
        self._session.close()

    def check(self) -> ParsedRules:
        """Fetch the document now, unconditionally, for `kefu rules check`; RulesFetchError."""
        return decode(self._get(Validators()).body, self._check_image, self._where)

    def _refresh(self) -> None:
        self._restore_once()
        asked = self._validators if self._state.rules is not None else Validators()
        fetched = self._get(asked)
        if fetched.status == 304:
            return
        parsed = usable(decode(fetched.body, self._check_image, self._where), self._where)
        self._state.accept(parsed, self._where)
        self._validators = fetched.validators
        if self._saved is not None:
            self._saved.write(fetched.body, self._validators)

    def _get(self, validators: Validators) -> _Fetched:
        headers = {"Accept": "application/json", **self._headers, **validators.headers()}
        deadline = time.monotonic() + self._max_seconds
        try:
            with self._session.get(
                self._url, headers=headers, timeout=self._timeout, stream=True
            ) as response:
                status = response.status_code
                if not (status == 200 or (status == 304 and validators.headers())):
                    raise RulesFetchError(self._where, f"HTTP {status}")
                body = read_bounded(response, self._max_bytes, deadline, self._read_timeout)
                return _Fetched(status, body, Validators.of(response))
        except BodyTooLarge:
            reason = f"document over the {self._max_bytes}-byte limit"
            raise RulesFetchError(self._where, reason) from None
        except PastDeadline:
            raise RulesFetchError(self._where, f"took over {self._max_seconds:g} s") from None
        except (requests.Timeout, TimeoutError):
            raise RulesFetchError(self._where, "timed out") from None
        except RulesFetchError:
            raise
        except Exception as exc:  # its text may quote the URL and its query
            raise RulesFetchError(self._where, f"request failed ({type(exc).__name__})") from None

    @property
    def _read_timeout(self) -> float:
        return self._timeout[1] if isinstance(self._timeout, tuple) else self._timeout

    def _restore_once(self) -> None:
        if self._restored or self._saved is None:
            return
        self._restored = True
        saved = self._saved.read()
        if saved is None:
            return
        raw, validators = saved
        origin = f"saved copy {self._saved.path}"
        try:
            parsed = usable(decode(raw, self._check_image, origin), origin)
        except RulesFetchError as exc:
            log.warning("ignoring the %s: %s", origin, exc.reason)
            return
        self._state.accept(parsed, origin)
        self._validators = validators


def _without_secrets(url: str) -> str:
    """The URL for logs and errors: no user info, query or fragment, which may carry tokens."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}{parts.path}"
