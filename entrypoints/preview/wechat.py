"""WeChat as the preview page plays it: sends are kept for the page, uploads kept as bytes."""

from __future__ import annotations

import threading

from domain.replies import MediaFile, Outbound


class PreviewWeChat:
    """Stands in for WeChat's server API in the preview: nothing leaves this process.

    An uploaded image gets a media id naming its bytes here, so the page shows exactly the
    bytes the media adapters loaded (and checked) for WeChat.
    """

    def __init__(self) -> None:
        self._sent: list[Outbound] = []
        self._media: dict[str, MediaFile] = {}
        self._lock = threading.Lock()

    def send(self, touser: str, message: Outbound) -> None:
        with self._lock:
            self._sent.append(message)

    def set_typing(self, touser: str) -> None:
        """The page shows replies at once; there is nothing to type."""

    def upload_image(self, media: MediaFile) -> str:
        with self._lock:
            media_id = f"preview-{len(self._media) + 1}"
            self._media[media_id] = media
            return media_id

    def media(self, media_id: str) -> MediaFile | None:
        with self._lock:
            return self._media.get(media_id)

    def take_sent(self) -> list[Outbound]:
        """What was sent since the last call, in order."""
        with self._lock:
            sent, self._sent = self._sent, []
            return sent
