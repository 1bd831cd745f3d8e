"""Images the rules name by http(s) URL, downloaded with timeouts and a size cap."""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import urlsplit

import requests

from adapters.media.types import MAX_MEDIA_BYTES, MediaTooLarge, filename_for, require_image
from adapters.timeouts import HTTP_TIMEOUT
from domain.errors import MediaUnavailable
from domain.replies import ImageRef, MediaFile

_CHUNK = 64 * 1024


class HttpMediaSource:
    """Downloads an image, refusing error pages, non-images and anything over max_bytes."""

    def __init__(
        self,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = HTTP_TIMEOUT,
        max_bytes: int = MAX_MEDIA_BYTES,
        max_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._session = session if session is not None else requests.Session()
        self._timeout = timeout
        self._max_bytes = max_bytes
        # The read timeout is per socket read; a server trickling bytes needs a whole-download cap.
        self._max_seconds = max_seconds
        self._clock = clock

    def load(self, ref: ImageRef) -> MediaFile:
        """The downloaded image. Raises MediaTooLarge, NotAnImage or MediaUnavailable."""
        url = ref.value
        try:
            with self._session.get(url, timeout=self._timeout, stream=True) as response:
                data, declared = self._body(url, response), response.headers.get("Content-Type")
        except requests.Timeout as exc:
            raise MediaUnavailable(url, "download timed out") from exc
        except requests.RequestException as exc:
            raise MediaUnavailable(url, f"download failed ({type(exc).__name__})") from exc
        name = urlsplit(url).path
        kind = require_image(url, data, declared, name)
        return MediaFile(filename_for(name, kind), kind, data)

    def _body(self, url: str, response: requests.Response) -> bytes:
        if not 200 <= response.status_code < 300:
            raise MediaUnavailable(url, f"download answered HTTP {response.status_code}")
        declared = _content_length(response)
        if declared is not None and declared > self._max_bytes:
            raise MediaTooLarge(url, self._max_bytes, declared)
        return self._read_capped(url, response)

    def _read_capped(self, url: str, response: requests.Response) -> bytes:
        started = self._clock()
        body = bytearray()
        for chunk in response.iter_content(chunk_size=_CHUNK):
            body += chunk
            if len(body) > self._max_bytes:
                raise MediaTooLarge(url, self._max_bytes)
            if self._clock() - started > self._max_seconds:
                raise MediaUnavailable(url, f"download took over {self._max_seconds:g} s")
        return bytes(body)


def _content_length(response: requests.Response) -> int | None:
    try:
        return int(response.headers["Content-Length"])
    except (KeyError, ValueError):
        return None
