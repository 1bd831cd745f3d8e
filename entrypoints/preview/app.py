"""The preview's Falcon app: the page's files, its JSON API and the images it shows."""

from __future__ import annotations

import html
import json
from importlib import resources
from string import Template

import falcon

from domain.stats import DAYS_KEPT
from entrypoints.preview.access import PreviewAccess
from entrypoints.preview.chat import PreviewChat
from entrypoints.preview.panels import RulesReport, StatsPanel
from entrypoints.preview.texts import TEXTS, language
from entrypoints.preview.wechat import PreviewWeChat
from entrypoints.preview.wording_zh import in_chinese

MAX_TEXT = 2048
_STATIC = {
    "preview.css": "text/css; charset=utf-8",
    "preview.js": "text/javascript; charset=utf-8",
}


def _file(name: str) -> bytes:
    return resources.files("entrypoints.preview").joinpath("static", name).read_bytes()


def render_page(lang: str) -> str:
    """index.html in one language: its labels, and the script's sentences on <body>."""
    texts = TEXTS[lang]
    words = {name: html.escape(text) for name, text in texts.items()}
    page = Template(_file("index.html").decode())
    return page.substitute(words, lang=lang, texts=html.escape(json.dumps(texts)))


class PageResource:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = "text/html; charset=utf-8"
        resp.text = render_page(language(req.get_param("lang")))


class StaticResource:
    def on_get(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        if name not in _STATIC:
            raise falcon.HTTPNotFound()
        resp.content_type = _STATIC[name]
        resp.data = _file(name)


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
        english = language(req.get_param("lang")) == "en"
        resp.media = self._report.current(str if english else in_chinese)


class StatsResource:
    def __init__(self, stats: StatsPanel) -> None:
        self._stats = stats

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        days = req.get_param_as_int("days", min_value=1, max_value=DAYS_KEPT) or DAYS_KEPT
        resp.media = self._stats.days(days)


def create_preview_app(
    chat: PreviewChat,
    report: RulesReport,
    stats: StatsPanel,
    wechat: PreviewWeChat,
    token: str | None = None,
) -> falcon.App[falcon.Request, falcon.Response]:
    """token: the access token every request must carry (None: loopback names only)."""
    app = falcon.App(middleware=[PreviewAccess(token)])
    app.add_route("/", PageResource())
    app.add_route("/static/{name}", StaticResource())
    app.add_route("/api/chat", ChatResource(chat))
    app.add_route("/api/report", ReportResource(report))
    app.add_route("/api/stats", StatsResource(stats))
    app.add_route("/media/{media_id}", MediaResource(wechat))
    return app
