"""How a call to WeChat's server API failed, as DeliveryErrors that say whether to retry."""

from __future__ import annotations

from domain.errors import DeliveryError, MediaExpired

TRANSIENT_ERRCODES = frozenset({-1, 45011})
# NOTE: WeChat's errcode for a media id it no longer knows (temporary media lives 3 days).
INVALID_MEDIA_ID = 40007


class WeChatApiError(DeliveryError):
    """WeChat answered with a non-zero errcode, or with an HTTP error status (errcode None)."""

    def __init__(self, errcode: int | None, errmsg: str, *, http_status: int = 200) -> None:
        what = f"errcode {errcode}" if errcode is not None else f"HTTP {http_status}"
        transient = errcode in TRANSIENT_ERRCODES or http_status >= 500
        super().__init__(f"WeChat API {what}: {errmsg}", transient=transient, code=errcode)
        self.errcode = errcode
        self.errmsg = errmsg
        self.http_status = http_status


class WeChatUnavailable(DeliveryError):
    """WeChat could not be reached, or did not answer in time."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"WeChat API unreachable: {reason}", transient=True)


class MissingAppSecret(DeliveryError):
    """No KEFU_APPSECRET, so no access token, so nothing can be sent."""

    def __init__(self) -> None:
        super().__init__("KEFU_APPSECRET is not set: no access token to send with", transient=False)


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
    """An answer in API security mode whose signature or encryption does not check out.

    Not transient: the call may have reached WeChat, so sending it again could deliver it twice,
    and a wrong certificate or key does not heal by itself.
    """

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"WeChat API answer to {path} refused: {reason}", transient=False)
