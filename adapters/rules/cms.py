"""Rules from the CMS over HTTP: conditional GETs, one refresh at a time, a saved copy on disk."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import requests

from adapters.rules.errors import RulesFetchError
from adapters.rules.last_good import LastGoodRules, decode, usable
from adapters.rules.refresh import Refresher, RefreshGate, Spawn, start_daemon
from adapters.rules.saved import SavedDocument, Validators
from adapters.timeouts import HTTP_TIMEOUT
from domain.reply_parsing import ImageCheck
from domain.rules import RuleSet
from domain.rules_document import ParsedRules

log = logging.getLogger(__name__)


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
    ) -> None:
        self._url, self._where = url, _without_secrets(url)
        self._ttl, self._keep_fresh = ttl, keep_fresh
        self._watching: threading.Event | None = None
        self._check_image = check_image
        self._session = session or requests.Session()
        self._timeout = timeout
        self._saved = SavedDocument(state_dir, url) if state_dir is not None else None
        self._validators = Validators()
        self._restored = False
        self._state = LastGoodRules(self._where)
        self._refresher = Refresher(self._state, RefreshGate(ttl, clock), self._refresh, spawn)

    def current(self) -> RuleSet:
        """The rules in force; never waits for a refresh once some are. Raises RulesUnavailable."""
        return self._refresher.current()

    def load(self) -> None:
        """Load the saved copy and fetch the CMS now (at start-up); never raises, logs.

        With keep_fresh, a daemon thread then refreshes every ttl seconds, pushes or not.
        """
        self._refresher.load()
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
        return decode(self._get(Validators()).content, self._check_image, self._where)

    def _refresh(self) -> None:
        self._restore_once()
        asked = self._validators if self._state.rules is not None else Validators()
        response = self._get(asked)
        if response.status_code == 304:
            return
        parsed = usable(decode(response.content, self._check_image, self._where), self._where)
        self._state.accept(parsed, self._where)
        self._validators = Validators.of(response)
        if self._saved is not None:
            self._saved.write(response.content, self._validators)

    def _get(self, validators: Validators) -> requests.Response:
        headers = {"Accept": "application/json", **validators.headers()}
        try:
            response = self._session.get(self._url, headers=headers, timeout=self._timeout)
        except requests.Timeout:
            raise RulesFetchError(self._where, "timed out") from None
        except requests.RequestException as exc:  # its text may quote the URL and its query
            raise RulesFetchError(self._where, f"request failed ({type(exc).__name__})") from None
        if response.status_code == 200 or (response.status_code == 304 and validators.headers()):
            return response
        raise RulesFetchError(self._where, f"HTTP {response.status_code}")

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
