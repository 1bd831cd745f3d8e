"""A local stand-in for the part of WeChat's server API kefu calls, for tests and the demo."""

from __future__ import annotations

import argparse
import hmac
import io
import os
import socketserver
import threading
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

import falcon
import falcon.media
from falcon.media.multipart import MultipartForm

from entrypoints.sandbox_state import (
    SEND_PATH,
    Call,
    Fault,
    SandboxState,
    check_send,
    check_typing,
    errmsg,
    parse_json,
)

TYPING_PATH = "/cgi-bin/message/custom/typing"


@dataclass(frozen=True)
class Answer:
    errcode: int
    body: Mapping[str, object] = field(default_factory=dict)  # what the call record shows
    payload: Mapping[str, object] | None = None  # the whole response, when not errcode/errmsg

    def response(self) -> dict[str, object]:
        if self.payload is not None:
            return dict(self.payload)
        return {"errcode": self.errcode, "errmsg": errmsg(self.errcode)}


Check = Callable[[falcon.Request, bytes], Answer]


class FakeWeChat:
    """What each API path answers once the access token (where one is needed) was accepted."""

    def __init__(self, appid: str, appsecret: str, state: SandboxState) -> None:
        self._appid, self._secret, self._state = appid, appsecret, state

    def stable_token(self, req: falcon.Request, raw: bytes) -> Answer:
        code, data = parse_json(raw)
        force = data.get("force_refresh") is True
        body = {
            "grant_type": data.get("grant_type"),
            "appid": data.get("appid"),
            "force_refresh": force,
        }
        if code := code or self._credentials(data):
            return Answer(code, body)
        token, expires_in = self._state.issue_stable(force)
        return Answer(0, body, {"access_token": token, "expires_in": expires_in})

    def token(self, req: falcon.Request, raw: bytes) -> Answer:
        data = {name: req.get_param(name) for name in ("grant_type", "appid", "secret")}
        body = {"grant_type": data["grant_type"], "appid": data["appid"]}
        if code := self._credentials(data):
            return Answer(code, body)
        token, expires_in = self._state.issue_plain()
        return Answer(0, body, {"access_token": token, "expires_in": expires_in})

    def _credentials(self, data: Mapping[str, object]) -> int:
        appid, secret = data.get("appid"), data.get("secret")
        if data.get("grant_type") != "client_credential":
            return 40002
        if not isinstance(appid, str) or not appid:
            return 41002
        if not isinstance(secret, str) or not secret:
            return 41004
        if appid != self._appid:
            return 40013
        # NOTE: the reference's table says 40001 for a bad AppSecret (older /cgi-bin/token pages);
        # the current stable_token page lists 40125 invalid appsecret, which kefu must also handle.
        return 0 if hmac.compare_digest(secret.encode(), self._secret.encode()) else 40125

    def upload(self, req: falcon.Request, raw: bytes) -> Answer:
        media_type = req.get_param("type")
        if media_type != "image":
            return Answer(40004, {"type": media_type})
        found = _media_part(req)
        if found is None:
            return Answer(41005, {"type": media_type})
        media = self._state.add_media(*found)
        payload = {
            "errcode": 0,
            "errmsg": "ok",
            "type": "image",
            "media_id": media.media_id,
            "created_at": media.created_at,
        }
        return Answer(0, asdict(media) | {"type": "image"}, payload)

    def send(self, req: falcon.Request, raw: bytes) -> Answer:
        code, message = parse_json(raw)
        return Answer(code or check_send(message, self._state.knows_media), message)

    def typing(self, req: falcon.Request, raw: bytes) -> Answer:
        code, message = parse_json(raw)
        return Answer(code or check_typing(message), message)


def _media_part(req: falcon.Request) -> tuple[str, str, int] | None:
    """(filename, content type, size) of the multipart part named media, if there is one."""
    try:
        form = req.get_media()
        if not isinstance(form, MultipartForm):
            return None  # NOTE: WeChat answers a JSON body with 41005 too
        for part in form:
            if part.name == "media":
                chunks = iter(partial(part.stream.read, 64 * 1024), b"")
                return part.filename or "", part.content_type, sum(map(len, chunks))
    except falcon.HTTPError:
        return None  # not multipart, or malformed: WeChat finds no media in it either
    return None


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
    ) -> None:
        self._state, self._check, self._method = state, check, method
        self._needs_token, self._keep_raw, self._multipart = needs_token, keep_raw, multipart

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._answer(req, resp)

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._answer(req, resp)

    def _answer(self, req: falcon.Request, resp: falcon.Response) -> None:
        fault = self._state.take_fault(req.path)
        if fault is not None and fault.stall:
            self._state.sleep(fault.stall)
        raw = b"" if self._multipart else req.bounded_stream.read()
        answer = self._decide(req, raw, fault)
        kept = raw.decode("utf-8", "replace") if self._keep_raw else None
        self._state.record(Call(req.path, req.method, answer.errcode, answer.body, kept))
        resp.media = answer.response()

    def _decide(self, req: falcon.Request, raw: bytes, fault: Fault | None) -> Answer:
        # Refused before the check, a call still shows what it tried to send (unless secret).
        shown = parse_json(raw)[1] if self._keep_raw else {}
        if fault is not None and fault.errcode is not None:
            return Answer(fault.errcode, shown)
        if self._method is not None and req.method != self._method:
            return Answer(43002, shown)
        if self._needs_token and (code := self._state.check_token(req.get_param("access_token"))):
            return Answer(code, shown)
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


def create_sandbox_app(
    appid: str, appsecret: str, state: SandboxState | None = None
) -> falcon.App[falcon.Request, falcon.Response]:
    state = SandboxState() if state is None else state
    wechat = FakeWeChat(appid, appsecret, state)
    app = falcon.App()
    app.req_options.media_handlers[falcon.MEDIA_MULTIPART] = falcon.media.MultipartFormHandler()
    api: list[tuple[str, WeChatEndpoint]] = [
        (
            "/cgi-bin/stable_token",
            WeChatEndpoint(state, wechat.stable_token, needs_token=False, keep_raw=False),
        ),
        (
            "/cgi-bin/token",
            WeChatEndpoint(state, wechat.token, None, needs_token=False, keep_raw=False),
        ),
        (
            "/cgi-bin/media/upload",
            WeChatEndpoint(state, wechat.upload, keep_raw=False, multipart=True),
        ),
        (SEND_PATH, WeChatEndpoint(state, wechat.send)),
        (TYPING_PATH, WeChatEndpoint(state, wechat.typing)),
    ]
    for path, endpoint in api:
        app.add_route(path, endpoint)
    control = SandboxControl(state)
    app.add_route("/sandbox/calls", control, suffix="calls")
    app.add_route("/sandbox/faults", control, suffix="faults")
    app.add_route("/sandbox/tokens/revoke", control, suffix="revoke")
    return app


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a stalled answer must not hold up stop()


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Stay silent: request lines carry ?access_token=…, and secrets never reach a log."""


def _buffered(app: WSGIApplication) -> WSGIApplication:
    """Read each body whole first: wsgiref closes a socket with unread bytes by a reset, and a
    faulted or refused upload is never read."""

    def buffered_app(environ: WSGIEnvironment, start_response: StartResponse) -> Any:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        environ["wsgi.input"] = io.BytesIO(environ["wsgi.input"].read(length))
        return app(environ, start_response)

    return buffered_app


@dataclass
class SandboxServer:
    """A sandbox served over real HTTP from a background thread."""

    url: str
    state: SandboxState
    _server: WSGIServer
    _thread: threading.Thread

    def wait(self) -> None:
        self._thread.join()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> SandboxServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def serve_sandbox(
    host: str, port: int, appid: str, appsecret: str, state: SandboxState | None = None
) -> SandboxServer:
    """Serve a sandbox on host:port (0 picks a free port) until .stop()."""
    state = SandboxState() if state is None else state
    app = create_sandbox_app(appid, appsecret, state)
    server = make_server(host, port, _buffered(app), _ThreadingWSGIServer, _QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="wechat-sandbox", daemon=True)
    thread.start()
    return SandboxServer(f"http://{host}:{server.server_port}", state, server, thread)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m entrypoints.sandbox", description="Serve a local WeChat API sandbox."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--appid", default=os.environ.get("KEFU_APPID"))
    parser.add_argument("--appsecret", default=os.environ.get("KEFU_APPSECRET"))
    args = parser.parse_args(argv)
    if not args.appid or not args.appsecret:
        parser.error("--appid and --appsecret (or KEFU_APPID and KEFU_APPSECRET) are required")
    server = serve_sandbox(args.host, args.port, args.appid, args.appsecret)
    print(f"WeChat sandbox on {server.url}  (calls: {server.url}/sandbox/calls)", flush=True)
    try:
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
