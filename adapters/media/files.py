"""Images the rules name by path, read from under KEFU_MEDIA_ROOT and never from outside it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from adapters.media.types import MAX_MEDIA_BYTES, MediaTooLarge, typed_image
from domain.errors import MediaUnavailable
from domain.replies import ImageRef, MediaFile
from domain.wording import Words, words


class MediaOutsideRoot(MediaUnavailable):
    """The path would read something outside the media root (`..`, a symlink out, a NUL byte)."""

    def __init__(self, ref: str) -> None:
        super().__init__(ref, words("path leaves the media root"))


class FileMediaSource:
    """Reads `/cms/poster02.png` and `cms/poster02.png` alike as root/cms/poster02.png."""

    def __init__(self, root: Path, max_bytes: int = MAX_MEDIA_BYTES) -> None:
        self._root = root.resolve()
        self._max_bytes = max_bytes

    def load(self, ref: ImageRef) -> MediaFile:
        """The image's bytes. Raises MediaOutsideRoot, MediaTooLarge or MediaUnavailable."""
        path = self._locate(ref.value)
        return typed_image(ref.value, self._read(ref.value, path), path.name)

    def problem_with(self, ref: ImageRef) -> Words | None:
        """Why ref cannot be served, for checking rules (the domain's check_image); None if fine.

        URLs are not fetched here: whether they work is only known when they are downloaded.
        """
        if ref.is_url:
            return None
        try:
            self._check(ref.value, self._locate(ref.value))
        except MediaUnavailable as problem:
            return problem.reason
        return None

    def containment_problem(self, ref: ImageRef) -> Words | None:
        """Only what makes a reference unusable for good: a path that leaves the media root.

        Live rule loading uses this, so a file added after the rules is still picked up.
        """
        if ref.is_url:
            return None
        try:
            self._locate(ref.value)
        except MediaUnavailable as problem:
            return problem.reason
        return None

    def fingerprint(self, ref: ImageRef) -> str:
        """Names this file as it is now, without reading it: path, size and modification time.

        An edited file gets a new fingerprint, so a cache keyed by it uploads the new image.
        Raises what load raises for a file that cannot be served.
        """
        path = self._locate(ref.value)
        info = self._check(ref.value, path)
        return f"file:{path}:{info.st_size}:{info.st_mtime_ns}"

    def _locate(self, value: str) -> Path:
        if "\0" in value:
            raise MediaOutsideRoot(value)
        # Rules write paths as if the root were "/", so a leading slash never means the real "/".
        try:
            path = (self._root / value.lstrip("/")).resolve()
        except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop
            raise MediaUnavailable(value, words("path cannot be resolved")) from exc
        if not path.is_relative_to(self._root):
            raise MediaOutsideRoot(value)
        return path

    def _check(self, value: str, path: Path) -> os.stat_result:
        try:
            info = path.stat()
        except FileNotFoundError as exc:
            # Named, so an editor sees which folder was searched (KEFU_MEDIA_ROOT or the cwd).
            missing = words("no such file under the media root {root}", root=str(self._root))
            raise MediaUnavailable(value, missing) from exc
        except OSError as exc:
            raise MediaUnavailable(value, _unreadable(exc)) from exc
        if not stat.S_ISREG(info.st_mode):
            raise MediaUnavailable(value, words("not a file"))
        if info.st_size > self._max_bytes:
            raise MediaTooLarge(value, self._max_bytes, info.st_size)
        return info

    def _read(self, value: str, path: Path) -> bytes:
        self._check(value, path)
        try:
            with path.open("rb") as file:
                # One byte past the cap catches a file that grew since it was checked.
                data = file.read(self._max_bytes + 1)
        except OSError as exc:
            raise MediaUnavailable(value, _unreadable(exc)) from exc
        if len(data) > self._max_bytes:
            raise MediaTooLarge(value, self._max_bytes)
        return data


def _unreadable(exc: OSError) -> Words:
    return words("cannot be read: {why}", why=exc.strerror)
