"""What the user saw, told from the WeChat sandbox's recorded calls, as transcript lines."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import requests

from entrypoints.sandbox.state import SEND_PATH

UPLOAD_PATH = "/cgi-bin/media/upload"
USER, KEFU, NOTE = "user  ›", "kefu  ›", "       "
Call = Mapping[str, Any]  # one call as GET /sandbox/calls lists it


def fetch_calls(sandbox_url: str, session: requests.Session | None = None) -> list[Call]:
    """Every call the sandbox recorded, oldest first."""
    response = (session or requests).get(f"{sandbox_url}/sandbox/calls", timeout=5)
    response.raise_for_status()
    calls: list[Call] = response.json()
    return calls


def what_the_user_saw(new: Sequence[Call], every: Iterable[Call]) -> list[str]:
    """Lines for the sends among new calls; images are named from their upload in every call."""
    uploads = {
        call["body"].get("media_id"): call["body"]
        for call in every
        if call["path"] == UPLOAD_PATH and call["errcode"] == 0
    }
    lines: list[str] = []
    for call in new:
        if call["path"] != SEND_PATH:
            continue
        body = call["body"]
        if call["errcode"] != 0:
            lines.append(
                f"{KEFU} (WeChat refused a {body.get('msgtype')} message: "
                f"errcode {call['errcode']})"
            )
        else:
            lines += _message(body, uploads)
    return lines or [f"{KEFU} (no reply)"]


def _message(body: Mapping[str, Any], uploads: Mapping[str, Mapping[str, Any]]) -> list[str]:
    kind = body.get("msgtype")
    item: Mapping[str, Any] = body.get(kind, {}) if isinstance(kind, str) else {}
    if kind == "text":
        return [f"{KEFU} {item.get('content')}"]
    if kind == "link":
        return [
            f"{KEFU} [link card] {item.get('title')}",
            f"{NOTE}   {item.get('description')}",
            f"{NOTE}   {item.get('url')}",
        ]
    if kind == "image":
        return [f"{KEFU} [image] {_media(item.get('media_id'), uploads)}"]
    if kind == "miniprogrampage":
        thumb = _media(item.get("thumb_media_id"), uploads)
        return [
            f"{KEFU} [mini-program card] {item.get('title')} → {item.get('pagepath')}",
            f"{NOTE}   cover {thumb}",
        ]
    return [f"{KEFU} [{kind}]"]


def _media(media_id: object, uploads: Mapping[str, Mapping[str, Any]]) -> str:
    shown = f"media id {str(media_id)[:12]}…"
    upload = uploads.get(str(media_id))
    if upload is None:
        return f"(no upload seen), {shown}"
    size = upload.get("size")
    bytes_ = f"{size:,} bytes" if isinstance(size, int) else "size unknown"
    return f"{upload.get('filename')}, {bytes_}, {upload.get('content_type')}, {shown}"
