"""The preview's Falcon app: the page's files, its JSON API and the images it shows."""

from __future__ import annotations

from importlib import resources
from typing import Any

import falcon

from domain.stats import DAYS_KEPT
from entrypoints.preview.chat import PreviewChat
from entrypoints.preview.panels import RulesReport, StatsPanel
from entrypoints.preview.wechat import PreviewWeChat

MAX_TEXT = 2048
_STATIC = {
    "index.html": "text/html; charset=utf-8",
    "preview.css": "text/css; charset=utf-8",
    "preview.js": "text/javascript; charset=utf-8",
}
# Rules are not trusted markup: the page loads nothing from elsewhere and runs only its own script.
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_LOOPBACK = frozenset({"127.0.0.1", "localhost"})


class LoopbackOnly:
    """Refuses requests naming another host, so a web page cannot reach the preview through a
    DNS name rebound to 127.0.0.1; and sets the page's security headers."""

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        if req.host not in _LOOPBACK:
            raise falcon.HTTPForbidden(title="the preview answers 127.0.0.1 only")

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: Any, ok: bool
    ) -> None:
        resp.set_header("Content-Security-Policy", _CSP)
        resp.set_header("X-Content-Type-Options", "nosniff")
        resp.set_header("Referrer-Policy", "no-referrer")


class StaticResource:
    def on_get(self, req: falcon.Request, resp: falcon.Response, name: str = "index.html") -> None:
        if name not in _STATIC:
            raise falcon.HTTPNotFound()
        resp.content_type = _STATIC[name]
        resp.data = resources.files("entrypoints.preview").joinpath("static", name).read_bytes()


class ChatResource:
    def __init__(self, chat: PreviewChat) -> None:
        self._chat = chat

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = req.get_media()
        if isinstance(body, dict) and body.get("enter") is True:
            resp.media = self._chat.enter().as_json()
            return
        text = body.get("text") if isinstance(body, dict) else None
        if not isinstance(text, str) or len(text) > MAX_TEXT:
            raise falcon.HTTPBadRequest(title=f'expected {{"text": up to {MAX_TEXT} characters}}')
        resp.media = self._chat.say(text).as_json()


class MediaResource:
    def __init__(self, wechat: PreviewWeChat) -> None:
        self._wechat = wechat

    def on_get(self, req: falcon.Request, resp: falcon.Response, media_id: str) -> None:
        media = self._wechat.media(media_id)
        if media is None:
            raise falcon.HTTPNotFound()
        resp.content_type = media.content_type
        resp.data = media.data
        resp.cache_control = ["private", "max-age=3600"]


class ReportResource:
    def __init__(self, report: RulesReport) -> None:
        self._report = report

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self._report.current()


class StatsResource:
    def __init__(self, stats: StatsPanel) -> None:
        self._stats = stats

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        days = req.get_param_as_int("days", min_value=1, max_value=DAYS_KEPT) or DAYS_KEPT
        resp.media = self._stats.days(days)


def create_preview_app(
    chat: PreviewChat, report: RulesReport, stats: StatsPanel, wechat: PreviewWeChat
) -> falcon.App[falcon.Request, falcon.Response]:
    app = falcon.App(middleware=[LoopbackOnly()])
    static = StaticResource()
    app.add_route("/", static)
    app.add_route("/static/{name}", static)
    app.add_route("/api/chat", ChatResource(chat))
    app.add_route("/api/report", ReportResource(report))
    app.add_route("/api/stats", StatsResource(stats))
    app.add_route("/media/{media_id}", MediaResource(wechat))
    return app
