"""Failures the domain knows how to react to; adapters raise these (or subclasses)."""

from __future__ import annotations


class KefuError(Exception):
    """Base of every error kefu raises on purpose."""


class MediaUnavailable(KefuError):
    """An image named by the rules could not be read, downloaded or uploaded."""

    def __init__(self, ref: str, reason: str) -> None:
        super().__init__(f"image {ref!r} unavailable: {reason}")
        self.ref = ref
        self.reason = reason


class DeliveryError(KefuError):
    """WeChat did not take a send. `transient` failures may succeed when tried again.

    `code` is WeChat's errcode when it gave one.
    """

    def __init__(self, reason: str, *, transient: bool, code: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient
        self.code = code


class MediaExpired(DeliveryError):
    """WeChat no longer knows a media id it issued (temporary media lives 3 days): upload again."""

    def __init__(self, reason: str, *, code: int | None = None) -> None:
        super().__init__(reason, transient=False, code=code)


class OutsideReplyWindow(DeliveryError):
    """A reply that would reach the user after WeChat's window for it: never attempted.

    Not transient: waiting only makes it later, and WeChat would refuse it anyway.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(f"not sent: {reason}", transient=False)


class RulesUnavailable(KefuError):
    """No rules could be loaded from the configured source, and none were loaded before."""


class RulesDocumentError(KefuError):
    """The rules document is not a JSON object of keyword rules at all."""
