"""`kefu preview`: the service's container with WeChat played by a local page on 127.0.0.1."""

from __future__ import annotations

import argparse
import contextlib
import socketserver
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import falcon
from dependency_injector import providers

from adapters.state.memory import MemoryStateStore
from entrypoints.preview.app import create_preview_app
from entrypoints.preview.chat import PreviewChat
from entrypoints.preview.panels import RulesReport, StatsPanel
from entrypoints.preview.recording import HitRecorder
from entrypoints.preview.similar import SimilarExplainer
from entrypoints.preview.wechat import PreviewWeChat
from entrypoints.service.bootstrap import load_settings
from entrypoints.service.container import Container
from entrypoints.service.settings import Settings

LOOPBACK = "127.0.0.1"
DEFAULT_PORT = 8700
DRAFT_TTL = 1.0
"""Seconds between looks at a --rules draft file: a saved edit shows at once."""

if TYPE_CHECKING:  # argparse's class takes no type argument at run time
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]


def build_preview(settings: Settings) -> falcon.App[falcon.Request, falcon.Response]:
    """The service's container, with WeChat, the shared state and the statistics of what users
    ask replaced for the page: replies are decided and images loaded exactly as in the service,
    and nothing reaches WeChat or the service's state."""
    container = Container(settings=settings)
    wechat, recorder = PreviewWeChat(), HitRecorder()
    container.wechat_api.override(providers.Object(wechat))
    container.state_backend.override(providers.Singleton(MemoryStateStore))
    container.hit_stats.override(providers.Object(recorder))
    # Replies are delivered inside the turn, so the page gets them in the answer.
    container.dispatcher.override(container.deliver_now)
    container.logging.init()
    container.rules.init()
    similar = SimilarExplainer(container.rules(), container.rules_parts.matchers())
    chat = PreviewChat(
        container.answer(), wechat, recorder, container.media_sources(), similar=similar
    )
    # Read afresh as `kefu rules check` reads it: an image file that is missing is reported too.
    parts = container.rules_parts
    report = RulesReport(
        lambda: parts.source(check_image=parts.media_files().problem_with), settings.rules_ttl
    )
    stats = StatsPanel(container.stats_store(), settings.stats, similar)
    return create_preview_app(chat, report, stats, wechat)


class _ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Stay silent: the page polls every few seconds."""


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    if args.rules is not None:
        if not args.rules.is_file():
            print(f"kefu: --rules {args.rules}: no such file", file=sys.stderr)
            return 2
        settings = replace(settings, rules_file=args.rules, rules_url=None, rules_ttl=DRAFT_TTL)
    app = build_preview(settings)
    with make_server(LOOPBACK, args.port, app, _ThreadingServer, _QuietHandler) as server:
        url = f"http://{LOOPBACK}:{server.server_port}/"
        print(f"kefu preview: {url} (Ctrl-C stops it)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()
    return 0


def add_command(subparsers: Subparsers) -> None:
    preview = subparsers.add_parser(
        "preview", help="try the rules in a local page, as users will see the replies"
    )
    preview.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help="port on 127.0.0.1 (0: any free one)"
    )
    preview.add_argument(
        "--rules", type=Path, metavar="FILE", help="a draft rules document instead of the source"
    )
    preview.set_defaults(run=run)
