"""The sandbox's falcon app: one resource per WeChat API path, plus its own control routes."""

from __future__ import annotations

from dataclasses import asdict

import falcon
import falcon.media

from entrypoints.sandbox.checks import parse_json
from entrypoints.sandbox.records import Call, Fault
from entrypoints.sandbox.security import SandboxSecurity
from entrypoints.sandbox.state import SEND_PATH, SandboxState
from entrypoints.sandbox.wechat import ApiAnswer, Check, FakeWeChat

TYPING_PATH = "/cgi-bin/message/custom/business/typing"
OLD_TYPING_PATH = "/cgi-bin/message/custom/typing"
# NOTE: what WeChat answers a mini program on a typing path it does not serve is UNCONFIRMED;
# 48001 api unauthorized is the sandbox's reading (kefu also falls back on 40066 and HTTP 404).
NO_SUCH_API = 48001


class WeChatEndpoint:
    """One API path: a pending stall, then a pending errcode, the method, the token, the check."""

    def __init__(
        self,
        state: SandboxState,
        check: Check,
        method: str | None = "POST",
        *,
        needs_token: bool = True,
        keep_raw: bool = True,
        multipart: bool = False,
        security: SandboxSecurity | None = None,
    ) -> None:
        """security: API security mode is on, and this path is one it covers."""
        self._state, self._check, self._method = state, check, method
        self._needs_token, self._keep_raw, self._multipart = needs_token, keep_raw, multipart
        self._security = security

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._answer(req, resp)

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._answer(req, resp)

    def _answer(self, req: falcon.Request, resp: falcon.Response) -> None:
        fault = self._state.take_fault(req.path)
        if fault is not None and fault.stall:
            self._state.sleep(fault.stall)
        raw = b"" if self._multipart else req.bounded_stream.read()
        if fault is not None and fault.status is not None:
            self._state.record(Call(req.path, req.method, fault.status))
            resp.status, resp.content_type = fault.status, falcon.MEDIA_HTML
            resp.text = f"<html><body>{fault.status} error</body></html>"
            return
        url = req.prefix + req.path
        if self._security is not None:
            refused, raw = self._security.open_request(url, _headers(req), raw)
            if refused:
                # NOTE: the mode's own refusals go back unsigned and in the clear.
                self._state.record(Call(req.path, req.method, refused, {}, None, sealed=True))
                resp.media = ApiAnswer(refused).response()
                return
        answer = self._decide(req, raw, fault)
        kept = raw.decode("utf-8", "replace") if self._keep_raw else None
        sealed = self._security is not None
        call = Call(req.path, req.method, answer.errcode, answer.body, kept, sealed=sealed)
        self._state.record(call)
        if self._security is None:
            resp.media = answer.response()
            return
        tamper = fault.tamper if fault is not None else None
        body, headers = self._security.seal_answer(url, answer.response(), tamper)
        resp.content_type, resp.data = falcon.MEDIA_JSON, body
        resp.set_headers(headers)

    def _decide(self, req: falcon.Request, raw: bytes, fault: Fault | None) -> ApiAnswer:
        # Refused before the check, a call still shows what it tried to send (unless secret).
        shown = parse_json(raw)[1] if self._keep_raw else {}
        if fault is not None and fault.errcode is not None:
            return ApiAnswer(fault.errcode, shown)
        if self._method is not None and req.method != self._method:
            return ApiAnswer(43002, shown)
        if self._needs_token and (code := self._state.check_token(req.get_param("access_token"))):
            return ApiAnswer(code, shown)
        return self._check(req, raw)


class SandboxControl:
    """The sandbox's own routes: recorded calls, pending faults, token revocation."""

    def __init__(self, state: SandboxState) -> None:
        self._state = state

    def on_get_calls(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = [call.as_json() for call in self._state.calls]

    def on_delete_calls(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._state.clear_calls()
        resp.status = falcon.HTTP_204

    def on_get_faults(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = [asdict(fault) for fault in self._state.faults]

    def on_post_faults(self, req: falcon.Request, resp: falcon.Response) -> None:
        try:
            fault = Fault.from_json(req.get_media())
        except ValueError as error:
            raise falcon.HTTPBadRequest(title="Bad fault", description=str(error)) from error
        self._state.add_fault(fault)
        resp.status, resp.media = falcon.HTTP_201, asdict(fault)

    def on_delete_faults(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._state.clear_faults()
        resp.status = falcon.HTTP_204

    def on_post_revoke(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._state.revoke_tokens()
        resp.status = falcon.HTTP_204


def _headers(req: falcon.Request) -> dict[str, str]:
    names = ("Wechatmp-Appid", "Wechatmp-TimeStamp", "Wechatmp-Signature")
    return {name: req.get_header(name) or "" for name in names}


def _no_such_api(req: falcon.Request, raw: bytes) -> ApiAnswer:
    return ApiAnswer(NO_SUCH_API, parse_json(raw)[1])


def create_sandbox_app(
    appid: str,
    appsecret: str,
    state: SandboxState | None = None,
    *,
    security: SandboxSecurity | None = None,
    business_typing: bool = True,
) -> falcon.App[falcon.Request, falcon.Response]:
    """security turns on API security mode for the calls it covers (never the upload);
    business_typing=False answers the mini-program typing path as if it did not exist."""
    state = SandboxState() if state is None else state
    wechat = FakeWeChat(appid, appsecret, state)
    typing = wechat.typing if business_typing else _no_such_api
    app = falcon.App()
    app.req_options.media_handlers[falcon.MEDIA_MULTIPART] = falcon.media.MultipartFormHandler()
    api: list[tuple[str, WeChatEndpoint]] = [
        (
            "/cgi-bin/stable_token",
            WeChatEndpoint(
                state, wechat.stable_token, needs_token=False, keep_raw=False, security=security
            ),
        ),
        (
            "/cgi-bin/token",
            WeChatEndpoint(state, wechat.token, None, needs_token=False, keep_raw=False),
        ),
        (
            "/cgi-bin/media/upload",
            WeChatEndpoint(state, wechat.upload, keep_raw=False, multipart=True),
        ),
        (SEND_PATH, WeChatEndpoint(state, wechat.send, security=security)),
        (TYPING_PATH, WeChatEndpoint(state, typing, security=security)),
        (OLD_TYPING_PATH, WeChatEndpoint(state, wechat.typing, security=security)),
    ]
    for path, endpoint in api:
        app.add_route(path, endpoint)
    control = SandboxControl(state)
    app.add_route("/sandbox/calls", control, suffix="calls")
    app.add_route("/sandbox/faults", control, suffix="faults")
    app.add_route("/sandbox/tokens/revoke", control, suffix="revoke")
    return app
