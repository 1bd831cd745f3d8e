"""Delivering a reply job: images become media ids, each part goes out once, failures fall back."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from domain.errors import (
    DeliveryError,
    FailureKind,
    MediaExpired,
    MediaUnavailable,
    OutsideReplyWindow,
)
from domain.jobs import ReplyJob
from domain.ledger import PushLedger
from domain.ports import MediaIds, WeChatMessenger
from domain.quotas import quota_for
from domain.replies import Outbound, Reply, TransferReply, images_of, outbound_for

log = logging.getLogger(__name__)

# A send ready to go, with the reply it came from (to upload its image again if WeChat lost it).
_Part = tuple[Outbound, Reply]


@dataclass(frozen=True)
class DeliveryReport:
    """How a job went: parts WeChat accepted, and the failure that stopped it, if any."""

    sent: int
    failure: DeliveryError | None = None


def needs_upload(reply: Reply) -> bool:
    return bool(images_of(reply))


class DeliverReplies:
    """Sends a job's replies in order; a part WeChat accepted is never sent again for that push."""

    def __init__(
        self,
        media: MediaIds,
        messenger: WeChatMessenger,
        ledger: PushLedger,
        clock: Callable[[], float],
    ) -> None:
        """clock: seconds since the epoch, as WeChat's CreateTime counts them."""
        self._media = media
        self._messenger = messenger
        self._ledger = ledger
        self._clock = clock

    def __call__(self, job: ReplyJob) -> DeliveryReport:
        pending = [
            (slot, reply)
            for slot, reply in enumerate(job.replies)
            if not self._ledger.delivered(job.key, str(slot))
        ]
        late = self._too_late(job)
        if late is not None:
            return DeliveryReport(0, late)
        if any(needs_upload(reply) for _, reply in pending):
            self._show_typing(job.to_user)
        sent, quota = 0, quota_for(job.on_enter)
        # Slots already delivered count once each; a fallback that grew a slot counts in full.
        budget = quota.sends - (len(job.replies) - len(pending))
        for slot, reply in pending:
            try:
                parts = self._prepare(reply, job.fallback)
            except DeliveryError as failure:  # an upload that may work later: the job waits
                log.warning("send to user failed after %d part(s): %s", sent, failure)
                return DeliveryReport(sent, failure)
            for sub, part in enumerate(parts):
                if budget <= 0:
                    log.warning(
                        "quota of %d sends reached for %s; the rest stay unsent",
                        quota.sends,
                        job.key,
                    )
                    return DeliveryReport(sent)
                budget -= 1
                if self._ledger.delivered(job.key, f"{slot}.{sub}"):
                    continue
                late = self._too_late(job)
                if late is not None:
                    return DeliveryReport(sent, late)
                try:
                    sent += self._send_part(job, f"{slot}.{sub}", part)
                except DeliveryError as failure:
                    log.warning("send to user failed after %d part(s): %s", sent, failure)
                    return DeliveryReport(sent, failure)
            self._ledger.mark_delivered(job.key, str(slot))
        return DeliveryReport(sent)

    def _send_part(self, job: ReplyJob, part_key: str, part: _Part) -> int:
        """Send one part; how many sends WeChat surely accepted (0 or 1)."""
        try:
            self._send(job.to_user, part)
        except DeliveryError as failure:
            if failure.kind is not FailureKind.UNCERTAIN:
                raise
            # NOTE: WeChat's send has no idempotency key and no read-back: a send whose answer
            # never came (or could not be verified) may well have reached the user, and a
            # second copy would too. It is
            # recorded as uncertain and not sent again; the job goes on with the next part.
            log.warning("WeChat may have taken this send; not sending it again: %s", failure)
            self._ledger.mark_uncertain(job.key, part_key)
            return 0
        self._ledger.mark_delivered(job.key, part_key)
        return 1

    def _too_late(self, job: ReplyJob) -> OutsideReplyWindow | None:
        """The failure for a job past WeChat's window for it (checked before every send)."""
        quota, now = quota_for(job.on_enter), self._clock()
        if job.created_at is None or not quota.closed(job.created_at, now):
            return None
        late = OutsideReplyWindow(quota.why_closed(job.created_at, now))
        log.warning("push %s: %s", job.key, late)
        return late

    def _show_typing(self, to_user: str) -> None:
        try:
            self._messenger.set_typing(to_user)
        except DeliveryError as failure:
            # NOTE: typing is a courtesy (WeChat refuses it outside 30 s of the user's message).
            log.info("typing indicator not shown: %s", failure)

    def _send(self, to_user: str, part: _Part) -> None:
        outbound, reply = part
        try:
            self._messenger.send(to_user, outbound)
        except MediaExpired:
            if not needs_upload(reply):
                raise
            log.info("WeChat no longer knows a media id; uploading the image again")
            self._forget_media(reply)
            self._messenger.send(to_user, self._resolve(reply))

    def _prepare(self, reply: Reply, fallback: tuple[Reply, ...]) -> list[_Part]:
        """The sends for one reply; an image that cannot be had is replaced by the fallback."""
        if isinstance(reply, TransferReply):
            return []
        try:
            return [(self._resolve(reply), reply)]
        except MediaUnavailable as missing:
            log.warning("%s; sending the default reply instead", missing)
        ready: list[_Part] = []
        for substitute in fallback:
            try:
                if not isinstance(substitute, TransferReply):
                    ready.append((self._resolve(substitute), substitute))
            except MediaUnavailable as missing:
                log.warning("default reply unavailable too: %s", missing)
        return ready

    def _resolve(self, reply: Reply) -> Outbound:
        return outbound_for(reply, self._media.media_id_for)

    def _forget_media(self, reply: Reply) -> None:
        for image in images_of(reply):
            self._media.forget(image)
