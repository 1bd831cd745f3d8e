"""What kefu answers: replies as the rules describe them, and sends as WeChat takes them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ImageRef:
    """An image named by the rules: an http(s) URL to download or a path under the media root."""

    value: str

    @property
    def is_url(self) -> bool:
        return self.value.lower().startswith(("http://", "https://"))


@dataclass(frozen=True)
class TextReply:
    content: str


@dataclass(frozen=True)
class LinkReply:
    title: str
    description: str
    url: str
    thumb_url: str


@dataclass(frozen=True)
class ImageReply:
    image: ImageRef


@dataclass(frozen=True)
class MiniProgramPageReply:
    title: str
    pagepath: str
    thumb: ImageRef


@dataclass(frozen=True)
class TransferReply:
    """Hand the chat to a human agent (the passive transfer_customer_service answer)."""


Reply = TextReply | LinkReply | ImageReply | MiniProgramPageReply | TransferReply


@dataclass(frozen=True)
class ImageSend:
    media_id: str


@dataclass(frozen=True)
class MiniProgramPageSend:
    title: str
    pagepath: str
    thumb_media_id: str


# What message/custom/send takes: text and link replies go out as they are.
Outbound = TextReply | LinkReply | ImageSend | MiniProgramPageSend


@dataclass(frozen=True)
class MediaFile:
    """Bytes ready for WeChat's temporary-media upload."""

    filename: str
    content_type: str
    data: bytes
