"""What kefu answers: replies as the rules describe them, and sends as WeChat takes them."""

from __future__ import annotations

from collections.abc import Callable
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


def images_of(reply: Reply) -> tuple[ImageRef, ...]:
    """The images a reply needs uploaded before it can be sent."""
    if isinstance(reply, ImageReply):
        return (reply.image,)
    return (reply.thumb,) if isinstance(reply, MiniProgramPageReply) else ()


def outbound_for(reply: Reply, media_id: Callable[[ImageRef], str]) -> Outbound:
    """What a reply sends through the API, its images named by `media_id` (which may raise)."""
    if isinstance(reply, ImageReply):
        return ImageSend(media_id(reply.image))
    if isinstance(reply, MiniProgramPageReply):
        return MiniProgramPageSend(reply.title, reply.pagepath, media_id(reply.thumb))
    if isinstance(reply, TransferReply):
        raise ValueError("a transfer is a passive answer to the push, never a send")
    return reply


@dataclass(frozen=True)
class MediaFile:
    """Bytes ready for WeChat's temporary-media upload."""

    filename: str
    content_type: str
    data: bytes
