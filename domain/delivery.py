"""Delivering a reply job: images become media ids, each part goes out once, failures fall back."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from domain.errors import DeliveryError, MediaUnavailable
from domain.jobs import ReplyJob
from domain.ports import MediaIds, WeChatMessenger
from domain.replies import (
    ImageReply,
    ImageSend,
    MiniProgramPageReply,
    MiniProgramPageSend,
    Outbound,
    Reply,
    TransferReply,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeliveryReport:
    """How a job went: parts WeChat accepted, and the failure that stopped it, if any."""

    sent: int
    failure: DeliveryError | None = None


class DeliverReplies:
    """Sends a job's replies in order through WeChat's customer-service API."""

    def __init__(self, media: MediaIds, messenger: WeChatMessenger) -> None:
        self._media = media
        self._messenger = messenger

    def __call__(self, job: ReplyJob) -> DeliveryReport:
        sent = 0
        for reply in job.replies:
            for outbound in self._prepare(reply, job.fallback):
                try:
                    self._messenger.send(job.touser, outbound)
                except DeliveryError as failure:
                    log.warning("send to user failed after %d part(s): %s", sent, failure)
                    return DeliveryReport(sent, failure)
                sent += 1
        return DeliveryReport(sent)

    def _prepare(self, reply: Reply, fallback: tuple[Reply, ...]) -> list[Outbound]:
        """The sends for one reply; an image that cannot be had is replaced by the fallback."""
        try:
            return [self._resolve(reply)] if not isinstance(reply, TransferReply) else []
        except MediaUnavailable as missing:
            log.warning("%s; sending the default reply instead", missing)
        ready = []
        for substitute in fallback:
            try:
                if not isinstance(substitute, TransferReply):
                    ready.append(self._resolve(substitute))
            except MediaUnavailable as missing:
                log.warning("default reply unavailable too: %s", missing)
        return ready

    def _resolve(self, reply: Reply) -> Outbound:
        if isinstance(reply, ImageReply):
            return ImageSend(self._media.media_id_for(reply.image))
        if isinstance(reply, MiniProgramPageReply):
            thumb = self._media.media_id_for(reply.thumb)
            return MiniProgramPageSend(reply.title, reply.pagepath, thumb)
        assert not isinstance(reply, TransferReply)
        return reply


class DeliverNow:
    """The synchronous dispatcher: delivers inside the push request, never raising."""

    def __init__(self, deliver: DeliverReplies) -> None:
        self._deliver = deliver

    def dispatch(self, job: ReplyJob) -> None:
        try:
            self._deliver(job)
        except Exception:
            # NOTE: WeChat must get `success` whatever happens here; the failure is only logged.
            log.exception("delivering replies failed unexpectedly")
