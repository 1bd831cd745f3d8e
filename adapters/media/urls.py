"""Images the rules name by http(s) URL: public hosts only, by a deadline, real images only."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from urllib.parse import urljoin, urlsplit

import requests

from adapters.bounded_read import BodyTooLarge, PastDeadline, read_bounded, seconds_left
from adapters.media.address_policy import AddressPolicy, RefusedUrl, Resolver, system_resolver
from adapters.media.public_http import public_only_session
from adapters.media.types import MAX_MEDIA_BYTES, MediaTooLarge, typed_image
from adapters.timeouts import HTTP_TIMEOUT
from domain.errors import MediaUnavailable
from domain.replies import ImageRef, MediaFile
from domain.wording import Words, words

MAX_REDIRECTS = 3
FAILURE_TTL = 60.0
"""Seconds a failed URL is answered from memory, so each message does not fetch it again."""


class HttpMediaSource:
    """Downloads an image, refusing private addresses, non-images and anything over max_bytes.

    Every hop (at most 3 redirects) is checked: http(s) only, no user info, and every address
    its host resolves to must be public unless the host is in `allow_hosts`; the connection goes
    to an address that was checked, directly or through the environment's proxy. The whole download,
    redirects included, ends by `max_seconds` on the clock, however slowly bytes arrive.
    """

    def __init__(
        self,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = HTTP_TIMEOUT,
        max_bytes: int = MAX_MEDIA_BYTES,
        max_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        allow_hosts: Iterable[str] = (),
        failure_ttl: float = FAILURE_TTL,
        resolver: Resolver = system_resolver,
    ) -> None:
        self._policy = AddressPolicy(allow_hosts, resolver)
        self._session = public_only_session(self._policy, session)
        self._timeout = timeout
        self._max_bytes = max_bytes
        self._max_seconds = max_seconds
        self._clock = clock
        self._failure_ttl = failure_ttl
        self._failed: dict[str, tuple[float, MediaUnavailable]] = {}
        self._failed_lock = threading.Lock()

    def load(self, ref: ImageRef) -> MediaFile:
        """The downloaded image. Raises MediaTooLarge, NotAnImage or MediaUnavailable."""
        remembered = self._remembered(ref.value)
        if remembered is not None:
            raise remembered
        try:
            return self._download(ref.value)
        except MediaUnavailable as failure:
            with self._failed_lock:
                self._failed[ref.value] = (self._clock() + self._failure_ttl, failure)
            raise

    def _remembered(self, url: str) -> MediaUnavailable | None:
        with self._failed_lock:
            until, failure = self._failed.get(url, (0.0, None))
            if failure is not None and self._clock() >= until:
                del self._failed[url]
                return None
            return failure

    def _download(self, url: str) -> MediaFile:
        deadline = self._clock() + self._max_seconds
        hop = url
        try:
            for _ in range(MAX_REDIRECTS + 1):
                self._policy.check_url(hop)
                with self._session.get(
                    hop, timeout=self._timeouts(url, deadline), stream=True, allow_redirects=False
                ) as response:
                    if not response.is_redirect:
                        data = self._body(url, response, deadline)
                        declared = response.headers.get("Content-Type")
                        return typed_image(url, data, urlsplit(hop).path, declared)
                    hop = urljoin(hop, response.headers["Location"])
        except RefusedUrl as refused:
            raise MediaUnavailable(url, words("{why}", why=refused.reason)) from None
        except requests.Timeout as exc:
            raise MediaUnavailable(url, words("download timed out")) from exc
        except requests.RequestException as exc:
            raise MediaUnavailable(url, _failed(exc)) from exc
        raise MediaUnavailable(url, words("more than {limit} redirects", limit=MAX_REDIRECTS))

    def _timeouts(self, url: str, deadline: float) -> tuple[float, float]:
        left = self._left(url, deadline)
        return min(self._timeout[0], left), min(self._timeout[1], left)

    def _left(self, url: str, deadline: float) -> float:
        try:
            return seconds_left(deadline, self._clock)
        except PastDeadline:
            raise self._late(url) from None

    def _late(self, url: str) -> MediaUnavailable:
        return MediaUnavailable(
            url, words("download took over {seconds:g} s", seconds=self._max_seconds)
        )

    def _body(self, url: str, response: requests.Response, deadline: float) -> bytes:
        if not 200 <= response.status_code < 300:
            raise MediaUnavailable(
                url, words("download answered HTTP {status}", status=response.status_code)
            )
        try:
            return read_bounded(response, self._max_bytes, deadline, self._timeout[1], self._clock)
        except BodyTooLarge as big:
            raise MediaTooLarge(url, self._max_bytes, big.size) from None
        except PastDeadline:
            raise self._late(url) from None
        except (TimeoutError, OSError) as exc:
            raise MediaUnavailable(url, words("download timed out")) from exc
        except Exception as exc:  # urllib3's read errors (protocol, decoding)
            raise MediaUnavailable(url, _failed(exc)) from exc


def _failed(exc: BaseException) -> Words:
    return words("download failed ({kind})", kind=type(exc).__name__)
