"""The JSON bodies kefu posts to WeChat: custom/send messages, encoded as WeChat reads them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, assert_never

from domain.replies import ImageSend, LinkReply, MiniProgramPageSend, Outbound, TextReply


def message_body(to_user: str, message: Outbound) -> dict[str, Any]:
    """The custom/send body for message, keys in WeChat's documented order."""
    match message:
        case TextReply(content=content):
            return {"touser": to_user, "msgtype": "text", "text": {"content": content}}
        case LinkReply(title=title, description=description, url=url, thumb_url=thumb_url):
            link = {"title": title, "description": description, "url": url, "thumb_url": thumb_url}
            return {"touser": to_user, "msgtype": "link", "link": link}
        case ImageSend(media_id=media_id):
            return {"touser": to_user, "msgtype": "image", "image": {"media_id": media_id}}
        case MiniProgramPageSend(title=title, pagepath=pagepath, thumb_media_id=thumb):
            page = {"title": title, "pagepath": pagepath, "thumb_media_id": thumb}
            return {"touser": to_user, "msgtype": "miniprogrampage", "miniprogrampage": page}
        case _:
            assert_never(message)


def utf8_json(body: Mapping[str, Any]) -> bytes:
    # NOTE: \uXXXX escapes reach the user literally (reference P11), so Chinese goes out raw.
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
