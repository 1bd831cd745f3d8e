"""What the fake WeChat API answers on each path once the call got past method and token."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from functools import partial

import falcon
from falcon.media.multipart import MultipartForm

from entrypoints.sandbox.checks import check_send, check_typing, errmsg, parse_json
from entrypoints.sandbox.state import SandboxState


@dataclass(frozen=True)
class ApiAnswer:
    errcode: int
    body: Mapping[str, object] = field(default_factory=dict)  # what the call record shows
    payload: Mapping[str, object] | None = None  # the whole response, when not errcode/errmsg

    def response(self) -> dict[str, object]:
        if self.payload is not None:
            return dict(self.payload)
        return {"errcode": self.errcode, "errmsg": errmsg(self.errcode)}


Check = Callable[[falcon.Request, bytes], ApiAnswer]


class FakeWeChat:
    """What each API path answers once the access token (where one is needed) was accepted."""

    def __init__(self, appid: str, appsecret: str, state: SandboxState) -> None:
        self._appid, self._secret, self._state = appid, appsecret, state

    def stable_token(self, req: falcon.Request, raw: bytes) -> ApiAnswer:
        code, data = parse_json(raw)
        force = data.get("force_refresh") is True
        body = {
            "grant_type": data.get("grant_type"),
            "appid": data.get("appid"),
            "force_refresh": force,
        }
        if code := code or self._credentials(data):
            return ApiAnswer(code, body)
        token, expires_in = self._state.issue_stable(force)
        return ApiAnswer(0, body, {"access_token": token, "expires_in": expires_in})

    def token(self, req: falcon.Request, raw: bytes) -> ApiAnswer:
        data = {name: req.get_param(name) for name in ("grant_type", "appid", "secret")}
        body = {"grant_type": data["grant_type"], "appid": data["appid"]}
        if code := self._credentials(data):
            return ApiAnswer(code, body)
        token, expires_in = self._state.issue_plain()
        return ApiAnswer(0, body, {"access_token": token, "expires_in": expires_in})

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

    def upload(self, req: falcon.Request, raw: bytes) -> ApiAnswer:
        media_type = req.get_param("type")
        if media_type != "image":
            return ApiAnswer(40004, {"type": media_type})
        found = _media_part(req)
        if found is None:
            return ApiAnswer(41005, {"type": media_type})
        media = self._state.add_media(*found)
        payload = {
            "errcode": 0,
            "errmsg": "ok",
            "type": "image",
            "media_id": media.media_id,
            "created_at": media.created_at,
        }
        return ApiAnswer(0, asdict(media) | {"type": "image"}, payload)

    def send(self, req: falcon.Request, raw: bytes) -> ApiAnswer:
        code, message = parse_json(raw)
        return ApiAnswer(code or check_send(message, self._state.knows_media), message)

    def typing(self, req: falcon.Request, raw: bytes) -> ApiAnswer:
        code, message = parse_json(raw)
        return ApiAnswer(code or check_typing(message), message)


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
