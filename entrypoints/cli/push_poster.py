"""Posting pushes to a callback URL as WeChat does, and what came back."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import requests

from adapters.logs.escaping import escape_controls
from entrypoints.cli.push_simulator import SignedPush
from entrypoints.cli.unreachable import why_unreachable

# NOTE: WeChat waits 5 s for the callback's answer, then drops the connection and retries.
WECHAT_TIMEOUT = 5.0


class NoResponse(Exception):
    """The push got no HTTP answer: unreachable, or slower than WeChat waits."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class PushResponse:
    status: int
    reason: str
    latency_ms: float
    body: str

    @property
    def ok(self) -> bool:
        return self.status == 200

    def line(self) -> str:
        said = f"{self.status} {self.reason}  {self.latency_ms:.0f} ms  {self.body or '(empty)'}"
        return escape_controls(said)


class PushPoster:
    """Posts pushes to one callback URL as WeChat does, timing each answer."""

    def __init__(
        self,
        url: str,
        session: requests.Session | None = None,
        timeout: float = WECHAT_TIMEOUT,
        clock: Callable[[], float] = time.perf_counter,
        verify: bool | str = True,
    ) -> None:
        """verify: check TLS certificates (against the CA file it names, when a path)."""
        self._url, self._timeout, self._clock, self._verify = url, timeout, clock, verify
        self._session = session if session is not None else requests.Session()

    def post(self, push: SignedPush) -> PushResponse:
        """The answer to one post of push. Raises NoResponse."""
        started = self._clock()
        try:
            response = self._session.post(
                self._url,
                params=push.params,
                data=push.body,
                headers={"Content-Type": push.content_type},
                timeout=self._timeout,
                allow_redirects=False,
                # NOTE: per request: requests lets REQUESTS_CA_BUNDLE override a session's verify.
                verify=self._verify,
            )
        except requests.Timeout:
            raise NoResponse(
                f"timed out after {self._timeout:g} s (WeChat gives up and retries)"
            ) from None
        except requests.RequestException as failure:
            raise NoResponse(why_unreachable(failure, self._url, self._timeout)) from None
        latency = (self._clock() - started) * 1000
        return PushResponse(response.status_code, response.reason or "", latency, response.text)
