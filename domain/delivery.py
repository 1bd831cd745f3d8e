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
from domain.ledger import PartState, PushLedger
from domain.ports import MediaIds, WeChatMessenger
from domain.quotas import quota_for
from domain.replies import Outbound, Reply, TransferReply, images_of, outbound_for

log = logging.getLogger(__name__)

# A send ready to go, with the reply it came from (to upload its image again if WeChat lost it).
_Part = tuple[Outbound, Reply]


@dataclass(frozen=True)
class DeliveryReport:
    """How a job went: parts WeChat accepted, parts that may have reached the user (their
    sends never came back), and the failure that stopped it, if any."""

    sent: int
    failure: DeliveryError | None = None
    uncertain: int = 0


@dataclass
class _Progress:
    """A job's attempt so far: sends left in the quota, parts sent, parts uncertain."""

    budget: int
    sent: int = 0
    uncertain: int = 0

    def report(self) -> DeliveryReport:
        return DeliveryReport(self.sent, None, self.uncertain)

    def stopped(self, failure: DeliveryError) -> DeliveryReport:
        # The job's outcome line (retry, dead letter) says why; this one is for debugging.
        log.debug("send to user failed after %d part(s): %s", self.sent, failure)
        return DeliveryReport(self.sent, failure, self.uncertain)


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
        complete: Callable[[ReplyJob], ReplyJob] | None = None,
    ) -> None:
        """clock: seconds since the epoch, as WeChat's CreateTime counts them; complete: what
        finishes, before sending, a job the ack left to match (a message queued before any
        rules were in force, a question: domain.late_answering); it may raise DeliveryError."""
        self._media = media
        self._messenger = messenger
        self._ledger = ledger
        self._clock = clock
        self._complete = complete

    def __call__(self, job: ReplyJob) -> DeliveryReport:
        if (job.message is not None or job.question is not None) and self._complete is not None:
            try:
                job = self._complete(job)
            except DeliveryError as failure:  # no rules yet: the job waits for them
                return DeliveryReport(0, failure)
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
        quota = quota_for(job.on_enter)
        # Slots already delivered count once each; a fallback that grew a slot counts in full.
        progress = _Progress(budget=quota.sends - (len(job.replies) - len(pending)))
        for slot, reply in pending:
            try:
                parts = self._prepare(reply, job.fallback)
            except DeliveryError as failure:  # an upload that may work later: the job waits
                return progress.stopped(failure)
            uncertain_before = progress.uncertain
            for sub, part in enumerate(parts):
                if progress.budget <= 0:
                    log.warning(
                        "quota of %d sends reached for %s; the rest stay unsent",
                        quota.sends,
                        job.key,
                    )
                    return progress.report()
                progress.budget -= 1
                try:
                    self._deliver_part(job, f"{slot}.{sub}", part, progress)
                except DeliveryError as failure:
                    return progress.stopped(failure)
            if progress.uncertain == uncertain_before:
                self._ledger.mark_delivered(job.key, str(slot))
        return progress.report()

    def _deliver_part(self, job: ReplyJob, part_key: str, part: _Part, progress: _Progress) -> None:
        """Send one part unless it was sent, or may have been; count what became of it."""
        state = self._ledger.part(job.key, part_key)
        if state is PartState.DELIVERED:
            return
        if state is not None:
            self._hold_back(job, part_key, state)
            progress.uncertain += 1
            return
        late = self._too_late(job)
        if late is not None:
            raise late
        if self._send_part(job, part_key, part):
            progress.sent += 1
        else:
            progress.uncertain += 1

    def _hold_back(self, job: ReplyJob, part_key: str, state: PartState) -> None:
        """A part an earlier attempt may have sent is not sent again, but on an operator's word."""
        if state is PartState.IN_FLIGHT:
            # The attempt that sent it stopped before WeChat answered (killed, or stopped past
            # its grace): WeChat may well have taken it.
            log.warning(
                "push %s: a send was in flight when its sender stopped; WeChat may have taken "
                "it, so it is not sent again",
                job.key,
            )
            self._ledger.mark_uncertain(job.key, part_key)

    def _send_part(self, job: ReplyJob, part_key: str, part: _Part) -> bool:
        """Send one part: True when WeChat took it, False when it may have (uncertain)."""
        self._ledger.mark_in_flight(job.key, part_key)
        if self._ledger.part(job.key, part_key) is not PartState.IN_FLIGHT:
            # The store did not take the mark (it is down, and its guard carries on): a re-run
            # after a crash could not know this send was made, and would make it again.
            raise DeliveryError(
                "the state store did not record the send; it waits until the store is back",
                kind=FailureKind.TRANSIENT,
            )
        try:
            self._send(job.to_user, part)
        except DeliveryError as failure:
            if failure.kind is not FailureKind.UNCERTAIN:
                self._ledger.forget(job.key, part_key)  # WeChat said no: it may go again
                raise
            # NOTE: WeChat's send has no idempotency key and no read-back: a send whose answer
            # never came (or could not be verified) may well have reached the user, and a
            # second copy would too. It is recorded as uncertain and not sent again; the job
            # goes on with the next part and ends as uncertain, for an operator to decide.
            log.warning("WeChat may have taken this send; not sending it again: %s", failure)
            self._ledger.mark_uncertain(job.key, part_key)
            return False
        self._ledger.mark_delivered(job.key, part_key)
        return True

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
