"""WeChat media ids for the rules' images: uploaded once, then reused from the shared state."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from typing import Protocol, TypeVar

from adapters.metrics.definitions import MEDIA_CACHE_HITS, MEDIA_UPLOADS
from adapters.state.locks import LockingStore
from adapters.state.memory import MemoryStateStore
from domain.errors import DeliveryError, MediaUnavailable
from domain.replies import ImageRef, MediaFile
from domain.wording import words

log = logging.getLogger(__name__)

# NOTE: WeChat keeps temporary media for 3 days; 60 hours leaves a wide margin before it drops one.
MEDIA_TTL = 60 * 3600.0
LOCK_TIMEOUT = 10.0
"""Seconds a request waits for another worker's upload of the same image before uploading too."""

T = TypeVar("T")


class ImageUploader(Protocol):
    def upload_image(self, media: MediaFile) -> str:
        """Upload as WeChat temporary media; the media id. Raises a DeliveryError."""
        ...


class FingerprintedSource(Protocol):
    def load(self, ref: ImageRef) -> MediaFile:
        """The bytes an image reference names. Raises MediaUnavailable."""
        ...

    def fingerprint(self, ref: ImageRef) -> str:
        """What identifies the image as it is now, without loading it. Raises MediaUnavailable."""
        ...


class UploadingMediaIds:
    """Uploads each image once and reuses its media id for 60 hours, in every worker.

    Ids live in `store` under ``media:<sha256 of the source's fingerprint>``. Workers racing for
    one image take a lock of that name: one uploads, the others read its id. The store is
    guarded (adapters/state/guard.py), so a failing one costs an upload, never the reply.
    Without a store, ids are cached in this process only.
    """

    def __init__(
        self,
        source: FingerprintedSource,
        uploader: ImageUploader,
        store: LockingStore | None = None,
        *,
        clock: Callable[[], float] = time.time,
        lock_timeout: float = LOCK_TIMEOUT,
    ) -> None:
        self._source = source
        self._uploader = uploader
        self._store: LockingStore = store if store is not None else MemoryStateStore()
        self._clock = clock
        self._lock_timeout = lock_timeout

    def media_id_for(self, ref: ImageRef) -> str:
        """A media id showing ref's image. Raises MediaUnavailable when the image cannot be had
        or WeChat refuses it, and the upload's DeliveryError when it may work later."""
        key = cache_key(self._source.fingerprint(ref))
        found = self._recall(key)
        if found is not None:
            MEDIA_CACHE_HITS.inc()
            return found
        return self._upload_once(ref, key)

    def forget(self, ref: ImageRef) -> None:
        """Drop the remembered media id for ref, so the next request uploads it again."""
        try:
            key = cache_key(self._source.fingerprint(ref))
        except MediaUnavailable:
            return  # gone or changed: no request can reach the old entry through this fingerprint
        self._store.delete(key)

    def _upload_once(self, ref: ImageRef, key: str) -> str:
        # Not won in time, upload anyway: a second upload is cheaper than a reply that never comes.
        with self._store.lock(key, self._lock_timeout):
            # Checked again inside: the previous holder has usually just uploaded this image.
            found = self._recall(key)
            if found is not None:
                MEDIA_CACHE_HITS.inc()
                return found
            media_id = self._upload(ref)
            self._remember(key, media_id)
            return media_id

    def _upload(self, ref: ImageRef) -> str:
        media = self._source.load(ref)
        try:
            media_id = self._uploader.upload_image(media)
        except DeliveryError as failure:
            MEDIA_UPLOADS.labels("failed").inc()
            if failure.transient:
                raise  # the reply waits and is tried again, rather than fall back to the default
            reason = words("upload to WeChat failed: {why}", why=failure.reason)
            raise MediaUnavailable(ref.value, reason) from failure
        MEDIA_UPLOADS.labels("ok").inc()
        return media_id

    def _recall(self, key: str) -> str | None:
        stamp, _, media_id = (self._store.get(key) or "").partition(" ")
        try:
            age = self._clock() - float(stamp)
        except ValueError:
            return None
        # The upload time travels with the id, so a ttl shortened in a later release also applies
        # to ids stored before it.
        return media_id if media_id and age < MEDIA_TTL else None

    def _remember(self, key: str, media_id: str) -> None:
        self._store.set(key, f"{self._clock():.3f} {media_id}", MEDIA_TTL)


def cache_key(fingerprint: str) -> str:
    """The state-store key for an image: hashed, so any URL or path makes a short key."""
    return "media:" + hashlib.sha256(fingerprint.encode()).hexdigest()
