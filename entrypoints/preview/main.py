"""`kefu preview`: the service's container with WeChat played by a local page."""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import os
import socket
import socketserver
import sys
from collections.abc import Mapping
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
from entrypoints.preview.settings import PreviewSettings, preview_settings
from entrypoints.preview.similar import SimilarExplainer
from entrypoints.preview.wechat import PreviewWeChat
from entrypoints.service.container import Container
from entrypoints.service.settings import SettingsError

LOOPBACK = "127.0.0.1"
DEFAULT_PORT = 8700
MIN_TOKEN = 16
"""Characters an access token has at least: guessing it over the network must be hopeless."""
HELP = (
    "A web page where a CMS editor types as a user and sees kefu's replies as WeChat shows them, "
    "with the rules report and the service's hit statistics (Chinese; ?lang=en for English). "
    "Settings it reads: KEFU_PREVIEW_TOKEN (the access token, off loopback) and the service's "
    "own (KEFU_RULES_URL or KEFU_RULES_FILE, KEFU_MEDIA_ROOT, KEFU_MEDIA_ALLOW_HOSTS, and for "
    "the statistics KEFU_APPID with KEFU_STATE_DIR or KEFU_REDIS_URL); with --rules FILE none "
    "of the service's is needed."
)

if TYPE_CHECKING:  # argparse's class takes no type argument at run time
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]


class PreviewRefused(Exception):
    """The preview cannot start as asked; the message is the one line that says why."""


def build_preview(
    found: PreviewSettings, token: str | None = None
) -> falcon.App[falcon.Request, falcon.Response]:
    """The service's container, with WeChat, the shared state and the statistics of what users
    ask replaced for the page: replies are decided and images loaded exactly as in the service,
    and nothing reaches WeChat or the service's state."""
    settings = found.settings
    container = Container(settings=settings)
    wechat, recorder = PreviewWeChat(), HitRecorder()
    container.wechat_api.override(providers.Object(wechat))
    container.state_backend.override(providers.Singleton(MemoryStateStore))
    container.hit_stats.override(providers.Object(recorder))
    # Replies are delivered inside the turn, so the page gets them in the answer.
    container.dispatcher.override(container.deliver_now)
    container.rules_wait.override(providers.Object(True))  # the page shows them at once
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
    store = container.stats_store() if found.service_stats else None
    stats = StatsPanel(store, settings.stats, similar)
    return create_preview_app(chat, report, stats, wechat, token)


class _ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _ThreadingServer6(_ThreadingServer):
    address_family = socket.AF_INET6


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Stay silent: the page polls every few seconds."""


def access_token(args: argparse.Namespace, env: Mapping[str, str]) -> str | None:
    """The token from --token-file or KEFU_PREVIEW_TOKEN; required off loopback."""
    if args.token_file is not None:
        try:
            token: str | None = args.token_file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeError) as unreadable:
            raise PreviewRefused(f"--token-file {args.token_file}: {unreadable}") from None
    else:
        token = env.get("KEFU_PREVIEW_TOKEN", "").strip() or None
    if token is None and not _is_loopback(args.host):
        raise PreviewRefused(
            f"--host {args.host} is not loopback: the page then needs an access token "
            "(--token-file FILE or KEFU_PREVIEW_TOKEN)"
        )
    if token is not None and len(token) < MIN_TOKEN:
        raise PreviewRefused(f"the access token has {len(token)} characters: use {MIN_TOKEN}+")
    return token


def _is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run(args: argparse.Namespace, env: Mapping[str, str] = os.environ) -> int:
    try:
        if args.rules is not None and not args.rules.is_file():
            raise PreviewRefused(f"--rules {args.rules}: no such file")
        token = access_token(args, env)
        found = preview_settings(env, args.rules)
    except PreviewRefused as refused:
        print(f"kefu preview: {refused}", file=sys.stderr)
        return 2
    except SettingsError as bad:
        for line in bad.problems:
            print(f"kefu: {line}", file=sys.stderr)
        return 2
    app = build_preview(found, token)
    server_class = _ThreadingServer6 if ":" in args.host else _ThreadingServer
    with make_server(args.host, args.port, app, server_class, _QuietHandler) as server:
        shown = f"[{args.host}]" if ":" in args.host else args.host
        url = f"http://{shown}:{server.server_port}/"
        link = " (editors open it with ?token=<the access token>)" if token else ""
        print(f"kefu preview: {url}{link} (Ctrl-C stops it)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()
    return 0


def add_command(subparsers: Subparsers) -> None:
    preview = subparsers.add_parser(
        "preview",
        help="try the rules in a web page, as users will see the replies",
        description=HELP,
    )
    preview.add_argument(
        "--host",
        default=LOOPBACK,
        help=f"address to listen on (default {LOOPBACK}); another than loopback only with a token",
    )
    preview.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help="port to listen on (0: any free one)"
    )
    preview.add_argument(
        "--rules", type=Path, metavar="FILE", help="a draft rules document; needs no settings"
    )
    preview.add_argument(
        "--token-file",
        type=Path,
        metavar="FILE",
        help="a file holding the access token (instead of KEFU_PREVIEW_TOKEN)",
    )
    preview.set_defaults(run=run)
