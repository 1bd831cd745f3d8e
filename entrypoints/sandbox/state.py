"""What the WeChat sandbox remembers: tokens, uploads, calls and faults."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace

from entrypoints.sandbox.records import Call, Fault, Media
from entrypoints.sandbox.tokens import SandboxTokens

MEDIA_LIFETIME = 3 * 24 * 3600
SEND_PATH = "/cgi-bin/message/custom/send"


class SandboxState:
    """Everything the sandbox keeps, safe to share between the threads of a threaded server."""

    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        new_id: Callable[[], str] = lambda: secrets.token_urlsafe(64),
        new_media_id: Callable[[], str] = lambda: secrets.token_urlsafe(48),
        on_call: Callable[[Call], None] | None = None,
    ) -> None:
        """new_id makes access tokens, new_media_id media ids; on_call sees each call recorded."""
        self.clock, self.sleep = clock, sleep
        self._on_call = on_call
        self._new_media_id = new_media_id
        self._tokens = SandboxTokens(clock, new_id)
        self._lock = threading.Lock()
        self._media: dict[str, Media] = {}
        self._calls: list[Call] = []
        self._faults: list[Fault] = []

    def issue_stable(self, force_refresh: bool) -> tuple[str, int]:
        """The stable token and its remaining seconds; a new one when forced or nearly expired."""
        return self._tokens.issue_stable(force_refresh)

    def issue_plain(self) -> tuple[str, int]:
        """A new /cgi-bin/token token; the one it replaces stays valid OVERLAP seconds more."""
        return self._tokens.issue_plain()

    def check_token(self, token: str | None) -> int:
        """0 for a token in force, else the errcode WeChat gives for it."""
        return self._tokens.check(token)

    def revoke_tokens(self) -> None:
        """Forget every token, as if another party had force-refreshed."""
        self._tokens.revoke()

    def add_media(self, filename: str, content_type: str, size: int) -> Media:
        media = Media(self._new_media_id(), filename, content_type, size, int(self.clock()))
        with self._lock:
            self._media[media.media_id] = media
        return media

    def knows_media(self, media_id: str) -> bool:
        with self._lock:
            media = self._media.get(media_id)
        return media is not None and self.clock() < media.created_at + MEDIA_LIFETIME

    @property
    def media(self) -> list[Media]:
        with self._lock:
            return list(self._media.values())

    def add_fault(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def take_fault(self, path: str) -> Fault | None:
        """The first pending fault for path, used up once; faults for a path run in order added."""
        with self._lock:
            for index, fault in enumerate(self._faults):
                if fault.path == path:
                    if fault.times > 1:
                        self._faults[index] = replace(fault, times=fault.times - 1)
                    else:
                        del self._faults[index]
                    return fault
        return None

    @property
    def faults(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def record(self, call: Call) -> None:
        with self._lock:
            self._calls.append(call)
        if self._on_call is not None:
            self._on_call(call)

    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    @property
    def sent(self) -> list[Mapping[str, object]]:
        """Bodies of the customer-service messages WeChat accepted, in order: what the user saw."""
        return [c.body for c in self.calls if c.path == SEND_PATH and c.errcode == 0]

    def clear_calls(self) -> None:
        with self._lock:
            self._calls.clear()
