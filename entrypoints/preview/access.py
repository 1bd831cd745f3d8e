"""Who may use the preview: a well-formed Host, the access token off loopback, and a JSON API
that only the page's own origin can call."""

from __future__ import annotations

import hmac
import re
from typing import Any
from urllib.parse import urlencode, urlsplit

import falcon

COOKIE = "kefu_preview"
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "[::1]"})
# A host name or IP literal and an optional port: what a browser puts in Host.
_HOST = re.compile(r"(?P<name>[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\])(?::(?P<port>[0-9]{1,5}))?")
# Rules are not trusted markup: the page loads nothing from elsewhere and runs only its own script.
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
NEEDS_TOKEN = "需要访问令牌：请打开管理员给的链接（…/?token=…）/ an access token is needed"


class PreviewAccess:
    """Without a token only loopback names are served, so a web page cannot reach the preview
    through a DNS name rebound to 127.0.0.1; with one, every request must carry it (the page
    gets it as a cookie from the link `/?token=…`)."""

    def __init__(self, token: str | None) -> None:
        self._token = token.encode() if token is not None else None

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        host, name = _host_of(req)
        if self._token is None and name not in LOOPBACK_NAMES:
            raise falcon.HTTPForbidden(title="the preview answers 127.0.0.1 only")
        if self._token is not None:
            self._check_token(req, resp)
        if req.method not in ("GET", "HEAD"):
            _check_same_origin(req, host)

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: Any, ok: bool
    ) -> None:
        resp.set_header("Content-Security-Policy", _CSP)
        resp.set_header("X-Content-Type-Options", "nosniff")
        resp.set_header("Referrer-Policy", "no-referrer")

    def _check_token(self, req: falcon.Request, resp: falcon.Response) -> None:
        linked = req.get_param("token")
        given = linked or next(iter(req.get_cookie_values(COOKIE) or ()), "")
        assert self._token is not None
        if not hmac.compare_digest(given.encode(), self._token):
            raise falcon.HTTPUnauthorized(title=NEEDS_TOKEN)
        if linked and req.method == "GET":
            # Kept as a cookie, the token leaves the address bar (and the browser's history).
            resp.set_cookie(
                COOKIE, linked, path="/", secure=False, http_only=True, same_site="Strict"
            )
            query = urlencode({k: v for k, v in req.params.items() if k != "token"}, doseq=True)
            resp.status, resp.location = falcon.HTTP_303, req.path + (f"?{query}" if query else "")
            resp.complete = True


def _host_of(req: falcon.Request) -> tuple[str, str]:
    """The Host header, lowercased, and its name; 400 unless it is a name or address and a
    port."""
    host = (req.get_header("Host") or "").lower()
    found = _HOST.fullmatch(host)
    if found is None or (found["port"] is not None and not 0 < int(found["port"]) < 65536):
        raise falcon.HTTPBadRequest(title="malformed Host header")
    return host, found["name"]


def _check_same_origin(req: falcon.Request, host: str) -> None:
    """Only the page itself may call the API: a form on another site cannot send JSON, and
    its fetch carries that site's Origin."""
    origin = req.get_header("Origin") or ""
    # NOTE: the scheme is not compared: a TLS proxy in front makes the page https while this
    # server sees http; the host and port are what tell another site apart.
    if urlsplit(origin).netloc.lower() != host:
        raise falcon.HTTPForbidden(title="the preview's API answers its own page only")
    if req.content_type is None or req.content_type.split(";")[0].strip() != "application/json":
        raise falcon.HTTPUnsupportedMediaType(title="the preview's API takes application/json")
