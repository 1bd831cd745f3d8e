"""One MediaSource for every image reference: URLs are downloaded, paths read under the root."""

from __future__ import annotations

from adapters.media.files import FileMediaSource
from adapters.media.urls import HttpMediaSource
from domain.replies import ImageRef, MediaFile
from domain.wording import Words


class MediaSources:
    """Routes each reference to the web or the media root by its form."""

    def __init__(self, files: FileMediaSource, web: HttpMediaSource) -> None:
        self._files = files
        self._web = web

    def load(self, ref: ImageRef) -> MediaFile:
        """The image's bytes. Raises MediaUnavailable (or one of its subclasses)."""
        return self._web.load(ref) if ref.is_url else self._files.load(ref)

    def problem_with(self, ref: ImageRef) -> Words | None:
        """The rules check for any reference; see FileMediaSource.problem_with."""
        return self._files.problem_with(ref)

    def fingerprint(self, ref: ImageRef) -> str:
        """What identifies the image for caching: a URL itself, a file's path, size and mtime."""
        return ref.value if ref.is_url else self._files.fingerprint(ref)
