"""WeChat media ids for the rules' images: load the bytes, upload them as temporary media."""

from __future__ import annotations

from typing import Protocol

from domain.errors import DeliveryError, MediaUnavailable
from domain.ports import MediaSource
from domain.replies import ImageRef, MediaFile


class ImageUploader(Protocol):
    def upload_image(self, media: MediaFile) -> str:
        """Upload as WeChat temporary media; the media id. Raises a DeliveryError."""
        ...


class UploadingMediaIds:
    """Uploads on every request; a shared cache of ids (valid 3 days) will wrap this later."""

    def __init__(self, source: MediaSource, uploader: ImageUploader) -> None:
        self._source = source
        self._uploader = uploader

    def media_id_for(self, ref: ImageRef) -> str:
        """A fresh media id for ref's image. Raises MediaUnavailable, also when the upload fails."""
        media = self._source.load(ref)
        try:
            return self._uploader.upload_image(media)
        except DeliveryError as failure:
            reason = f"upload to WeChat failed: {failure.reason}"
            raise MediaUnavailable(ref.value, reason) from failure

    def forget(self, ref: ImageRef) -> None:
        """Nothing is remembered yet; the cached decorator will drop its entry for ref here."""
