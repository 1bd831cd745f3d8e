"""Failures the domain knows how to react to; adapters raise these (or subclasses)."""

from __future__ import annotations

from enum import Enum

from domain.wording import Words


class KefuError(Exception):
    """Base of every error kefu raises on purpose."""


class MediaUnavailable(KefuError):
    """An image named by the rules could not be read, downloaded or uploaded."""

    def __init__(self, ref: str, reason: Words) -> None:
        super().__init__(f"image {ref!r} unavailable: {reason}")
        self.ref = ref
        self.reason = reason


class FailureKind(Enum):
    """What a failed call to WeChat means for trying again; adapters decide which it is."""

    TRANSIENT = "transient"  # busy, rate-limited, unreachable: likely to work a little later
    PERMANENT = "permanent"  # refused for this message or user: the same call fails again
    OPERATOR = "operator"  # the deployment is wrong (whitelist, credentials): works once fixed
    UNCERTAIN = "uncertain"  # the call may have been carried out; its answer never came


class DeliveryError(KefuError):
    """WeChat did not take a send. `kind` says whether and how to try again.

    `transient` (without `kind`) is the short form: TRANSIENT when true, else PERMANENT.
    `code` is WeChat's errcode when it gave one.
    """

    def __init__(
        self,
        reason: str,
        *,
        transient: bool = False,
        code: int | None = None,
        kind: FailureKind | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        if kind is None:
            kind = FailureKind.TRANSIENT if transient else FailureKind.PERMANENT
        self.kind = kind
        self.code = code

    @property
    def transient(self) -> bool:
        """True when the same call may well work if tried again later."""
        return self.kind in (FailureKind.TRANSIENT, FailureKind.OPERATOR)


class QueueUnavailable(KefuError):
    """The reply queue's store could not take or give a job (down, read-only, busy)."""


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


class PatternRefused(KefuError):
    """A `re:` key's pattern that the regex engine refuses; `reason` is the engine's words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RulesUnavailable(KefuError):
    """No rules could be loaded from the configured source, and none were loaded before."""


class RulesDocumentError(KefuError):
    """The rules document is not a JSON object of keyword rules at all."""
