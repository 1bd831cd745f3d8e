"""The callback route WeChat pushes to, and the health check."""

from __future__ import annotations

import logging
import time
from typing import Any

import falcon

from adapters.logs.push_context import PUSH_HEADER, about_push
from adapters.metrics.definitions import ACK_SECONDS, PUSHES
from adapters.wechat_push.errors import MalformedPush
from adapters.wechat_push.gateway import OpenedPush, WeChatPushGateway
from domain.answering import AnswerMessage, Transfer

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024  # pushes are a few hundred bytes; 64 KiB is generous (contract §2)
SUCCESS = "success"
# NOTE: WeChat's Content-Type for pushes is UNCONFIRMED, so every type a JSON or XML body
# could plausibly carry is accepted (or none); forms, multipart and the like are not pushes.
PUSH_CONTENT_TYPES = {
    "",
    "application/json",
    "text/json",
    "text/xml",
    "application/xml",
    "text/plain",
}


_ACCEPTED = PUSHES.labels("accepted", "")  # looked up once: it counts every push


class CallbackResource:
    """GET verifies the URL; POST takes a push and always answers a genuine one."""

    def __init__(self, gateway: WeChatPushGateway, answer: AnswerMessage) -> None:
        self._gateway = gateway
        self._answer = answer

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = falcon.MEDIA_TEXT
        resp.set_header("X-Content-Type-Options", "nosniff")  # the body is the sender's text
        resp.text = self._gateway.verify_url(query(req))

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        started = time.perf_counter()
        check_content_type(req)
        push = self._gateway.open(query(req), read_body(req))
        with about_push(push.message.dedup_key, push.message.from_user) as push_id:
            resp.set_header(PUSH_HEADER, push_id)
            self._handle(push, resp)
        _ACCEPTED.inc()
        ACK_SECONDS.observe(time.perf_counter() - started)

    def _handle(self, push: OpenedPush, resp: falcon.Response) -> None:
        resp.content_type, resp.text = falcon.MEDIA_TEXT, SUCCESS
        try:
            message = push.message
            log.debug("push from %s: %s", message.from_user, type(message).__name__)
            answer = self._answer(message)
            if isinstance(answer, Transfer):
                passive = self._gateway.seal(answer, push)
                resp.content_type, resp.text = passive.content_type, passive.body
        except Exception:
            # NOTE: WeChat shows the user an error unless a genuine push gets `success`.
            log.exception("handling the push failed; answered success")


class HealthResource:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type, resp.text = falcon.MEDIA_TEXT, "ok"


def query(req: falcon.Request) -> dict[str, str]:
    """Query parameters as single strings; a repeated parameter is not WeChat's."""
    params: dict[str, str] = {}
    for name, value in req.params.items():
        if not isinstance(value, str):
            raise MalformedPush(f"query parameter {name} is repeated")
        params[name] = value
    return params


def check_content_type(req: falcon.Request) -> None:
    media_type = (req.content_type or "").split(";")[0].strip().lower()
    if media_type not in PUSH_CONTENT_TYPES:
        raise MalformedPush(f"content type {media_type!r} is not a push's")


def read_body(req: falcon.Request) -> bytes:
    if (req.content_length or 0) > MAX_BODY:
        raise _too_large()
    # A chunked body has no length, so bounded_stream would read nothing: read the server's
    # (de-chunked) stream itself, still capped.
    chunked = req.content_length is None and "chunked" in (
        req.get_header("Transfer-Encoding") or ""
    )
    body = _read_capped(req.stream if chunked else req.bounded_stream)
    if len(body) > MAX_BODY:
        raise _too_large()
    return body


def _read_capped(stream: Any) -> bytes:
    body = bytearray()
    while len(body) <= MAX_BODY:
        piece = stream.read(MAX_BODY + 1 - len(body))
        if not piece:
            break
        body += piece
    return bytes(body)


def _too_large() -> falcon.HTTPError:
    PUSHES.labels("malformed", "too_large").inc()
    return falcon.HTTPContentTooLarge(description=f"pushes are at most {MAX_BODY} bytes")
