"""How a call to WeChat's server API failed, as DeliveryErrors of the kind the domain acts on."""

from __future__ import annotations

from adapters.wechat_api.advice import advice_for
from domain.errors import DeliveryError, FailureKind, MediaExpired

SEND_PATH = "/cgi-bin/message/custom/send"
"""The one call never repeated blindly: a second copy would reach the user too."""

# NOTE: errcodes from the customer-service and token pages (reference section 6). -1 system
# busy, 45009 and 45011 call frequency limits: a little later the same call works.
TRANSIENT_ERRCODES = frozenset({-1, 45009, 45011})
# The deployment is wrong; replies wait (retried until the deadline) while someone fixes it.
OPERATOR_ERRCODES = frozenset({40164, 40125, 40013, 41004, 48001, 40001})


def kind_of(errcode: int | None, http_status: int) -> FailureKind:
    """What an errcode (or, without one, an HTTP status) means for trying again."""
    if errcode in TRANSIENT_ERRCODES or http_status >= 500:
        return FailureKind.TRANSIENT
    if errcode in OPERATOR_ERRCODES:
        return FailureKind.OPERATOR
    # 45015 outside the 48 hours, 45047 quota used up, 40003 bad openid, bad bodies, and codes
    # kefu does not know: the same call would fail again, so it is not repeated.
    return FailureKind.PERMANENT


# NOTE: WeChat's errcode for a media id it no longer knows (temporary media lives 3 days).
INVALID_MEDIA_ID = 40007


class WeChatApiError(DeliveryError):
    """WeChat answered with a non-zero errcode, or with an HTTP error status (errcode None)."""

    def __init__(self, errcode: int | None, errmsg: str, *, http_status: int = 200) -> None:
        what = f"errcode {errcode}" if errcode is not None else f"HTTP {http_status}"
        fix = advice_for(str(errcode)) if errcode in OPERATOR_ERRCODES else None
        reason = f"WeChat API {what}: {errmsg}" + (f" — to fix: {fix}" if fix else "")
        super().__init__(reason, code=errcode, kind=kind_of(errcode, http_status))
        self.errcode = errcode
        self.errmsg = errmsg
        self.http_status = http_status


class WeChatUnavailable(DeliveryError):
    """WeChat could not be reached, or did not answer in time.

    UNCERTAIN when the request may have reached WeChat and the call is one that must not be
    repeated blindly (a send); TRANSIENT otherwise.
    """

    def __init__(self, reason: str, *, uncertain: bool = False) -> None:
        kind = FailureKind.UNCERTAIN if uncertain else FailureKind.TRANSIENT
        super().__init__(f"WeChat API unreachable: {reason}", kind=kind)


class MissingAppSecret(DeliveryError):
    """No KEFU_APPSECRET, so no access token, so nothing can be sent."""

    def __init__(self) -> None:
        super().__init__(
            "KEFU_APPSECRET is not set: no access token to send with", kind=FailureKind.OPERATOR
        )


class WeChatBadAnswer(DeliveryError):
    """WeChat answered with something that is not the JSON object the call returns."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"WeChat API answer not understood: {reason}", transient=False)


def api_error(errcode: int | None, errmsg: str, *, http_status: int = 200) -> DeliveryError:
    """The error for WeChat's answer: MediaExpired for a lost media id, else WeChatApiError."""
    if errcode == INVALID_MEDIA_ID:
        return MediaExpired(f"WeChat API errcode {errcode}: {errmsg}", code=errcode)
    return WeChatApiError(errcode, errmsg, http_status=http_status)


class UnverifiedAnswer(DeliveryError):
    """An answer in API security mode that is not WeChat's verdict: unsigned (even an error),
    tampered, replayed, or signed with another certificate.

    It says nothing about what WeChat did: for a send it is UNCERTAIN (recorded, never repeated
    on its own, listed as uncertain); for a token fetch or typing OPERATOR (retried until it
    verifies or the reply's deadline passes: asking again does no harm). Never an errcode kefu
    acts on, so a forged 40001 drops no token and a forged 45015 is no verdict.
    """

    def __init__(self, path: str, reason: str) -> None:
        kind = FailureKind.UNCERTAIN if path == SEND_PATH else FailureKind.OPERATOR
        super().__init__(f"WeChat API answer to {path} refused: {reason}", kind=kind)


def failure_code(failure: DeliveryError) -> str:
    """A short code for how a call failed, from a small set (for metrics and readiness).

    WeChat's errcode when it gave one, else http_<status>, unreachable, bad_answer, no_appsecret.
    """
    if isinstance(failure, WeChatApiError) and failure.errcode is None:
        return f"http_{failure.http_status}"
    if failure.code is not None:
        return str(failure.code)
    if isinstance(failure, WeChatUnavailable):
        return "unreachable"
    if isinstance(failure, MissingAppSecret):
        return "no_appsecret"
    return "bad_answer"
