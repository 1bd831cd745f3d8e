"""A small egress proxy on 127.0.0.1: CONNECT tunnels and plain forwarding, every request counted.

It resolves names through its own table, as a corporate proxy resolves them through its DNS.
"""

from __future__ import annotations

import http.client
import select
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


@dataclass
class LocalProxy:
    port: int
    upstreams: dict[str, str]
    """host name -> the address the proxy's own DNS gives it"""
    asked: list[str] = field(default_factory=list)
    """"CONNECT host:port" or "GET url", in order"""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def resolve(self, host: str) -> str:
        return self.upstreams.get(host, host)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_CONNECT(self) -> None:
        self.server.proxy.asked.append(f"CONNECT {self.path}")
        host, _, port = self.path.rpartition(":")
        try:
            upstream = socket.create_connection((self.server.proxy.resolve(host), int(port)), 5)
        except OSError:
            self.send_error(502)
            return
        self.send_response(200, "Connection established")
        self.end_headers()
        _pipe(self.connection, upstream)

    def do_GET(self) -> None:
        self.server.proxy.asked.append(f"GET {self.path}")
        parts = urlsplit(self.path)
        upstream = http.client.HTTPConnection(
            self.server.proxy.resolve(parts.hostname or ""), parts.port or 80, timeout=5
        )
        upstream.request("GET", parts.path, headers={"Host": parts.netloc})
        answer = upstream.getresponse()
        body = answer.read()
        self.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in ("connection", "transfer-encoding", "content-length"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        upstream.close()

    def log_message(self, format: str, *args: object) -> None:
        pass


def _pipe(client: socket.socket, upstream: socket.socket) -> None:
    with upstream:
        sockets = [client, upstream]
        while True:
            readable, _, _ = select.select(sockets, [], [], 5)
            if not readable:
                return
            for sock in readable:
                data = sock.recv(65536)
                if not data:
                    return
                (upstream if sock is client else client).sendall(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    proxy: LocalProxy


@contextmanager
def running_proxy(upstreams: dict[str, str]) -> Iterator[LocalProxy]:
    """A proxy on 127.0.0.1 that sends upstreams' names to their addresses; stopped on exit."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.proxy = LocalProxy(server.server_address[1], upstreams)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.proxy
    finally:
        server.shutdown()
        server.server_close()
