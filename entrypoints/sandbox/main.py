"""A local stand-in for the part of WeChat's server API kefu calls, for tests and the demo."""

from __future__ import annotations

import io
import socketserver
import threading
from dataclasses import dataclass
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from entrypoints.sandbox.routes import create_sandbox_app
from entrypoints.sandbox.security import SandboxSecurity
from entrypoints.sandbox.state import SandboxState


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
    host: str,
    port: int,
    appid: str,
    appsecret: str,
    state: SandboxState | None = None,
    *,
    security: SandboxSecurity | None = None,
    business_typing: bool = True,
) -> SandboxServer:
    """Serve a sandbox on host:port (0 picks a free port) until .stop()."""
    state = SandboxState() if state is None else state
    app = create_sandbox_app(
        appid, appsecret, state, security=security, business_typing=business_typing
    )
    server = make_server(host, port, _buffered(app), _ThreadingWSGIServer, _QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="wechat-sandbox", daemon=True)
    thread.start()
    return SandboxServer(f"http://{host}:{server.server_port}", state, server, thread)
