"""The Falcon application: routes and error mapping, nothing else."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import falcon

from adapters.metrics.definitions import PUSHES
from adapters.wechat_push.errors import (
    DecryptError,
    InvalidSignature,
    MalformedPush,
    PlaintextRefused,
    StalePush,
    WrongAppId,
)
from adapters.wechat_push.gateway import WeChatPushGateway
from domain.answering import AnswerMessage
from entrypoints.service.callback import CallbackResource, HealthResource
from entrypoints.service.readiness import Readiness, ReadinessResource

log = logging.getLogger(__name__)


def create_app(
    callback_path: str,
    gateway: WeChatPushGateway,
    answer: AnswerMessage,
    readiness: Readiness | None = None,
) -> falcon.App[falcon.Request, falcon.Response]:
    """Routes and error mapping around the push gateway, the answer use case and readiness."""
    app = falcon.App()
    app.add_route(callback_path, CallbackResource(gateway, answer))
    app.add_route("/healthz", HealthResource())
    if readiness is not None:
        app.add_route("/readyz", ReadinessResource(readiness))
    app.add_error_handler(InvalidSignature, _refuse(falcon.HTTPForbidden, "not a genuine push"))
    app.add_error_handler(WrongAppId, _refuse(falcon.HTTPForbidden, "push for another AppID"))
    app.add_error_handler(DecryptError, _refuse(falcon.HTTPBadRequest, "push does not decrypt"))
    app.add_error_handler(MalformedPush, _refuse(falcon.HTTPBadRequest, "not a well-formed push"))
    app.add_error_handler(Exception, _unexpected)
    return app


def _unexpected(req: falcon.Request, resp: falcon.Response, exc: Exception, params: Any) -> None:
    """A bug: logged with the path only, since the query string holds signatures and openids."""
    if isinstance(exc, falcon.HTTPError | falcon.HTTPStatus):
        raise exc  # Falcon's own answers (404, 405, 413) keep their usual handling
    log.error("unexpected error on %s %s", req.method, req.path, exc_info=exc)
    raise falcon.HTTPInternalServerError()


def _refuse(error: Callable[..., falcon.HTTPError], title: str) -> Any:
    """An error handler that logs why a request was refused and answers `error`."""

    def handle(req: falcon.Request, resp: falcon.Response, exc: Exception, params: Any) -> None:
        log.warning("refused %s %s: %s", req.method, req.path, exc)
        if req.method == "POST":
            PUSHES.labels(*refusal(exc)).inc()
        raise error(title=title)

    return handle


def refusal(exc: Exception) -> tuple[str, str]:
    """The (outcome, reason) a refused push is counted under: a small fixed set."""
    if isinstance(exc, StalePush):
        return "refused", "stale"
    if isinstance(exc, PlaintextRefused):
        return "refused", "plaintext"
    if isinstance(exc, WrongAppId):
        return "refused", "appid"
    if isinstance(exc, InvalidSignature):
        return "refused", "signature"
    if isinstance(exc, DecryptError):
        return "malformed", "decrypt"
    return "malformed", "format"
