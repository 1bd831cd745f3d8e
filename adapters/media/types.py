"""What kind of image some bytes are, and the filename WeChat's upload should see for them."""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from urllib.parse import unquote

from domain.errors import MediaUnavailable
from domain.replies import MediaFile
from domain.wording import words

# NOTE: WeChat's temporary-media size limit for Mini Programs is UNCONFIRMED (2 MB or 10 MB,
# reference section 7); 2 MiB is the safe reading.
MAX_MEDIA_BYTES = 2 * 1024 * 1024

# The first extension of each type is the one given to names that lack a fitting one.
_EXTENSIONS: dict[str, tuple[str, ...]] = {
    "image/jpeg": (".jpg", ".jpeg", ".jpe"),
    "image/png": (".png",),
    "image/gif": (".gif",),
    "image/webp": (".webp",),
    "image/bmp": (".bmp",),
}
_ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg", "image/x-png": "image/png"}
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_MAX_NAME = 80
FALLBACK_STEM = "image"


class MediaTooLarge(MediaUnavailable):
    """The image is bigger than WeChat is sure to take."""

    def __init__(self, ref: str, limit: int, size: int | None = None) -> None:
        seen = words("{size} bytes", size=size) if size is not None else words("more than that")
        over = words("image is over the {limit}-byte limit ({seen})", limit=limit, seen=seen)
        super().__init__(ref, over)
        self.limit = limit
        self.size = size


class NotAnImage(MediaUnavailable):
    """The bytes are not an image WeChat could show (an HTML error page, say)."""


def sniff(data: bytes) -> str | None:
    """The image type the leading bytes prove, or None."""
    return next((kind for magic, kind in _MAGIC if data.startswith(magic)), None)


def normalise_type(declared: str | None) -> str:
    """A Content-Type header without parameters, lower-cased, with common aliases resolved."""
    bare = (declared or "").split(";", 1)[0].strip().lower()
    return _ALIASES.get(bare, bare)


def type_from_name(name: str) -> str | None:
    suffix = PurePosixPath(name).suffix.lower()
    return next((kind for kind, exts in _EXTENSIONS.items() if suffix in exts), None)


def typed_image(ref: str, data: bytes, name: str, declared: str | None = None) -> MediaFile:
    """The image the bytes prove, named after `name`; NotAnImage when they prove none.

    Only the leading bytes decide, for files and downloads alike: a file name or a header can
    call anything (an HTML error page, a program) "image/jpeg".
    """
    kind = sniff(data)
    if kind is None:
        said = normalise_type(declared)
        size = words("{size} bytes", size=len(data))
        found = words("{kind}, {size}", kind=said, size=size) if said else size
        raise NotAnImage(ref, words("not an image ({found}; JPEG, PNG or GIF only)", found=found))
    return MediaFile(filename_for(name, kind), kind, data)


def filename_for(name: str, content_type: str) -> str:
    """A plain ASCII filename from a path or URL path, with an extension fitting content_type."""
    base = PurePosixPath(unquote(name).replace("\\", "/")).name
    path = PurePosixPath(_UNSAFE.sub("_", base).lstrip(".") or FALLBACK_STEM)
    stem, suffix = path.stem, path.suffix.lower()
    if not any(ch.isalnum() for ch in stem):
        stem = FALLBACK_STEM
    fitting = _EXTENSIONS.get(content_type, (suffix,) if suffix else ())
    if suffix in fitting:
        ext = suffix
    else:
        # A known image extension that disagrees with the bytes is replaced, anything else kept.
        stem = stem if type_from_name(path.name) else f"{stem}{suffix}"
        ext = fitting[0] if fitting else ""
    return f"{stem[: _MAX_NAME - len(ext)]}{ext}"
