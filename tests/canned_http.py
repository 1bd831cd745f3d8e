"""A local HTTP(S) server on 127.0.0.1 giving every request the same canned answer."""

from __future__ import annotations

import http.server
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def canned(
    body: bytes,
    content_type: str = "application/json",
    status: int = 200,
    tls: ssl.SSLContext | None = None,
    hold: threading.Event | None = None,
) -> Iterator[str]:
    """Every GET and POST answered with body; the server's base URL (https with tls). With
    `hold`, each answer waits until it is set (at most 60 s), as a hanging server does."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if hold is not None:
                hold.wait(60)
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET

        def log_message(self, format: str, *args: object) -> None:
            """Quiet."""

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{server.server_port}"
    finally:
        if hold is not None:
            hold.set()
        server.shutdown()
        server.server_close()
