"""The CMS document last accepted and its validators, kept on disk for the next start."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import requests

from adapters.state.private import replace_privately

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Validators:
    """What the CMS said identifies a document, to ask it whether that is still current."""

    etag: str | None = None
    last_modified: str | None = None

    @classmethod
    def of(cls, response: requests.Response) -> Validators:
        return cls(response.headers.get("ETag"), response.headers.get("Last-Modified"))

    def headers(self) -> dict[str, str]:
        sent = {"If-None-Match": self.etag, "If-Modified-Since": self.last_modified}
        return {name: value for name, value in sent.items() if value}


class SavedDocument:
    """The last accepted document and its validators under the state folder, written atomically."""

    def __init__(self, folder: Path, url: str) -> None:
        self.path = folder / "rules.json"
        self._meta = folder / "rules.meta.json"
        # A hash, not the URL: its query may hold a CMS token, which stays out of files.
        self._url_hash = _sha256(url.encode())
        self._written: tuple[bytes, Validators] | None = None

    def read(self) -> tuple[bytes, Validators] | None:
        try:
            raw = self.path.read_bytes()
        except OSError:
            return None
        meta = self._read_meta()
        if meta.get("url_sha256", self._url_hash) != self._url_hash:
            return None  # a copy from another CMS is not the document configured now
        if meta.get("body_sha256") != _sha256(raw):  # stopped between the two writes
            return raw, Validators()
        etag, modified = meta.get("etag"), meta.get("last_modified")
        validators = Validators(_str_or_none(etag), _str_or_none(modified))
        self._written = (raw, validators)
        return self._written

    def _read_meta(self) -> dict[str, object]:
        try:
            meta = json.loads(self._meta.read_bytes())
        except (OSError, ValueError):
            return {}
        return meta if isinstance(meta, dict) else {}

    def write(self, raw: bytes, validators: Validators) -> None:
        """Best effort: a full or read-only disk costs the copy, never the rules in force."""
        if self._written == (raw, validators):
            return
        self._written = (raw, validators)
        meta = {"url_sha256": self._url_hash, "body_sha256": _sha256(raw)}
        meta |= {"etag": validators.etag or "", "last_modified": validators.last_modified or ""}
        try:
            replace_privately(self.path, raw)
            replace_privately(self._meta, json.dumps(meta).encode())
        except OSError as exc:
            log.warning("could not save rules to %s: %s", self.path, exc.strerror or exc)


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
