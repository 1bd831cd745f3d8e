"""WeChat's server API over requests: access tokens, customer-service sends, image uploads."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import NewConnectionError
from urllib3.util.retry import Retry

from adapters.logs.redaction import redact
from adapters.metrics.definitions import REPLY_SENDS, SEND_SECONDS, TOKEN_FETCHES
from adapters.timeouts import HTTP_TIMEOUT
from adapters.wechat_api.bodies import message_body, utf8_json
from adapters.wechat_api.errors import (
    SEND_PATH,
    MissingAppSecret,
    WeChatApiError,
    WeChatBadAnswer,
    WeChatUnavailable,
    api_error,
)
from adapters.wechat_api.measured import measured
from adapters.wechat_api.security import ApiSecurity
from adapters.wechat_api.session import EnvironmentOnceSession
from adapters.wechat_api.tokens import IssuedToken, TokenCache, TokenStore
from domain.replies import MediaFile, Outbound

log = logging.getLogger(__name__)

TOKEN_REJECTED = frozenset({40001, 40014, 42001})
JSON_UTF8 = {"Content-Type": "application/json; charset=utf-8"}
TYPING_PATH = "/cgi-bin/message/custom/business/typing"
OLD_TYPING_PATH = "/cgi-bin/message/custom/typing"
# NOTE: WeChat documents no one errcode for "this API does not exist here". 48001 (api
# unauthorized: not an API this account type may call), 40066 (invalid url) and HTTP 404 are
# what a path it does not serve gets; none of them is transient, so falling back on them never
# hides an outage. -1 and 5xx are never a reason to fall back (UNCONFIRMED, reference 12b).
NO_SUCH_API = frozenset({48001, 40066})


class RequestsWeChatApi:
    """The WeChatMessenger and ImageUploader that talk to api.weixin.qq.com."""

    def __init__(
        self,
        appid: str,
        appsecret: str | None,
        base_url: str = "https://api.weixin.qq.com",
        session: requests.Session | None = None,
        timeout: tuple[float, float] = HTTP_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
        tokens: TokenStore | None = None,
        security: ApiSecurity | None = None,
    ) -> None:
        """security: API security mode (API安全), for the calls it covers, when configured."""
        self._appid = appid
        self._appsecret = appsecret or ""
        self._base = base_url.rstrip("/")
        self._session = session if session is not None else EnvironmentOnceSession()
        self._timeout = timeout
        self._tokens = tokens if tokens is not None else TokenCache(clock)
        self._security = security
        self._typing_path = TYPING_PATH
        self._mount_retries()

    def send(self, to_user: str, message: Outbound) -> None:
        """Deliver one customer-service message. Raises a DeliveryError subclass."""
        body = message_body(to_user, message)
        kind = str(body["msgtype"])
        with measured(SEND_SECONDS.labels(kind), REPLY_SENDS, kind):
            self._call(SEND_PATH, at_most_once=True, body=body)

    def set_typing(self, to_user: str) -> None:
        """Show the typing indicator. Raises a DeliveryError subclass."""
        # NOTE: the current typing page says mini programs call business/typing; older pages and
        # WxJava say custom/typing. The first answer "no such API" switches this process over.
        body = {"touser": to_user, "command": "Typing"}
        path = self._typing_path
        try:
            self._call(path, body=body)
        except WeChatApiError as failure:
            if path == OLD_TYPING_PATH or not _no_such_api(failure):
                raise
            log.info("WeChat has no %s here (%s); using %s", path, failure, OLD_TYPING_PATH)
            self._typing_path = OLD_TYPING_PATH
            self._call(OLD_TYPING_PATH, body=body)

    def upload_image(self, media: MediaFile) -> str:
        """Upload as temporary media (valid 3 days); the media_id. Raises a DeliveryError."""
        files = {"media": (media.filename, media.data, media.content_type)}
        answer = self._call("/cgi-bin/media/upload", params={"type": "image"}, files=files)
        media_id = answer.get("media_id")
        if not isinstance(media_id, str) or not media_id:
            raise WeChatBadAnswer("upload answer has no media_id")
        return media_id

    def _mount_retries(self) -> None:
        # Sends and uploads are never retried by the transport: a POST that reached WeChat but
        # whose answer was lost would go out twice and burn the user's 5-message quota. Only the
        # token fetch is retried, and only when no connection was made; stable_token with
        # force_refresh=false hands back the same token, so asking twice is harmless anyway.
        self._session.mount(f"{self._base}/", HTTPAdapter(max_retries=0))
        connect_only = Retry(total=2, connect=2, read=0, status=0, other=0, backoff_factor=0.2)
        self._session.mount(self._token_url, HTTPAdapter(max_retries=connect_only))

    @property
    def _token_url(self) -> str:
        return f"{self._base}/cgi-bin/stable_token"

    def _call(self, path: str, **request: Any) -> dict[str, Any]:
        """POST to path with the access token; `at_most_once=True` for calls that must not be
        repeated when their answer is lost (their failure is then UNCERTAIN)."""
        token = self._tokens.get(self._fetch_token)
        try:
            return self._call_with(token, path, **request)
        except WeChatApiError as failure:
            if failure.errcode not in TOKEN_REJECTED:
                raise
            log.info("WeChat rejected the access token (%s); retrying once", failure.errcode)
            self._tokens.invalidate(token)
        return self._call_with(self._tokens.get(self._fetch_token), path, **request)

    def _call_with(
        self, token: str, path: str, params: Mapping[str, str] | None = None, **rest: Any
    ) -> dict[str, Any]:
        # NOTE: WeChat takes access_token only in the query; RedactSecrets keeps it out of logs.
        query = {"access_token": token, **(params or {})}
        return self._post(self._base + path, (token,), params=query, **rest)

    def check_token(self) -> None:
        """Get a token as a send would: the shared one while valid, else fetched now.

        For readiness checks. Raises the DeliveryError the fetch raised.
        """
        self._tokens.get(self._fetch_token)

    def _fetch_token(self) -> IssuedToken:
        with measured(None, TOKEN_FETCHES):
            return self._fetch_token_now()

    def _fetch_token_now(self) -> IssuedToken:
        if not self._appsecret:
            raise MissingAppSecret()
        body = {
            "grant_type": "client_credential",
            "appid": self._appid,
            "secret": self._appsecret,
            # NOTE: never true: a forced refresh kills the token every other worker is using.
            "force_refresh": False,
        }
        answer = self._post(self._token_url, (), body=body)
        value, expires_in = answer.get("access_token"), answer.get("expires_in")
        if not isinstance(value, str) or not value or not isinstance(expires_in, int | float):
            raise WeChatBadAnswer("stable_token answer lacks access_token or expires_in")
        log.debug("fetched an access token valid for %s s", expires_in)
        return IssuedToken(value, float(expires_in))

    def _post(
        self,
        url: str,
        secrets: tuple[str, ...],
        body: Mapping[str, Any] | None = None,
        at_most_once: bool = False,
        **request: Any,
    ) -> dict[str, Any]:
        """POST body as JSON (sealed in API security mode) or `request` as is (uploads).

        `at_most_once`: a call that must not be repeated when its answer is lost (a send); such
        a failure is then UNCERTAIN unless no connection was ever made.
        """
        scrub = (self._appsecret, *secrets)
        # NOTE: the upload (no JSON body) is the one call kefu makes that the mode does not cover.
        security = self._security if body is not None else None
        if body is not None:
            request.update(self._encoded(url, body))
        try:
            response = self._session.post(
                url, timeout=self._timeout, allow_redirects=False, **request
            )
        except requests.RequestException as failure:
            # `from None`: the cause's text holds the URL, access_token and all.
            # The path leads, because the library's text names the URL only for some failures.
            where = url.removeprefix(self._base)
            reason = redact(f"{where}: {type(failure).__name__}: {failure}", scrub)
            raise WeChatUnavailable(
                reason, uncertain=at_most_once and not _never_sent(failure)
            ) from None
        if security is not None and 200 <= response.status_code < 300:
            return _answer(response, scrub, security.open(url, response.headers, response.content))
        return _answer(response, scrub)

    def _encoded(self, url: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """The data and headers of a JSON call: sealed and signed in API security mode."""
        if self._security is None:
            return {"data": utf8_json(body), "headers": JSON_UTF8}
        sealed = self._security.seal(url, body)
        return {"data": sealed.body, "headers": {**JSON_UTF8, **sealed.headers}}


def _no_such_api(failure: WeChatApiError) -> bool:
    return failure.errcode in NO_SUCH_API or failure.http_status == 404


def _never_sent(failure: requests.RequestException) -> bool:
    """True when the request surely never reached WeChat: no connection was made."""
    if isinstance(failure, requests.ConnectTimeout):
        return True
    if not isinstance(failure, requests.ConnectionError) or not failure.args:
        return False
    cause = getattr(failure.args[0], "reason", failure.args[0])
    return isinstance(cause, NewConnectionError)


def _answer(
    response: requests.Response, scrub: tuple[str, ...], opened: object = None
) -> dict[str, Any]:
    """The JSON object WeChat answered (`opened` when it came sealed), or the matching error."""
    payload = opened
    if payload is None:
        try:
            payload = response.json()
        except ValueError:
            payload = None
    fields = payload if isinstance(payload, dict) else {}
    errcode, errmsg = fields.get("errcode", 0), redact(str(fields.get("errmsg", "")), scrub)
    if not 200 <= response.status_code < 300:
        code = errcode if isinstance(errcode, int) and errcode != 0 else None
        raise WeChatApiError(
            code, errmsg or response.reason or "", http_status=response.status_code
        )
    if not isinstance(payload, dict):
        kind = response.headers.get("Content-Type", "no content type")
        raise WeChatBadAnswer(f"HTTP {response.status_code} body is not a JSON object ({kind})")
    if not isinstance(errcode, int):
        raise WeChatBadAnswer(f"errcode {errcode!r} is not a number")
    if errcode != 0:
        raise api_error(errcode, errmsg)
    return payload
