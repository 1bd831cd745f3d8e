"""A real image host on 127.0.0.1 for download tests: redirects, trickles, fake images, TLS."""

from __future__ import annotations

import ipaddress
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.certificates import write_self_signed
from tests.images import JPEG


@dataclass
class ImageHost:
    port: int
    paths: list[str] = field(default_factory=list)
    host_headers: list[str] = field(default_factory=list)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self.server.host.paths.append(self.path)
        self.server.host.host_headers.append(self.headers.get("Host", ""))
        if self.path.startswith("/hop/"):
            left = int(self.path.split("/")[2])
            target = "/poster.jpg" if left == 0 else f"/hop/{left - 1}"
            self._answer(302, b"", {"Location": target})
        elif self.path == "/to-loopback":
            self._answer(302, b"", {"Location": self.server.host.url("/poster.jpg")})
        elif self.path == "/secret.jpg":
            self._answer(200, b"DB_PASSWORD=hunter2 admin=root", {"Content-Type": "image/jpeg"})
        elif self.path == "/trickle.jpg":
            self._trickle()
        else:
            self._answer(200, JPEG, {"Content-Type": "image/jpeg"})

    def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _trickle(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.end_headers()
        try:
            for byte in JPEG[:40]:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.3)
        except OSError:
            pass  # the client gave up, as it should

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    host: ImageHost


@contextmanager
def serving_images(tls: ssl.SSLContext | None = None) -> Iterator[ImageHost]:
    """An image host on 127.0.0.1 (HTTPS with tls), stopped on exit."""
    server = _Server(("127.0.0.1", 0), _Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    server.host = ImageHost(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.host
    finally:
        server.shutdown()
        server.server_close()


def tls_for(name: str, folder: Path) -> tuple[ssl.SSLContext, Path]:
    """A server context with a self-signed certificate for name (a DNS name or an IP address),
    and the certificate's file."""
    cert, key_file = folder / "cert.pem", folder / "key.pem"
    try:
        ipaddress.ip_address(name)
    except ValueError:
        write_self_signed(cert, key_file, name, dns=name)
    else:
        write_self_signed(cert, key_file, name, ip=name)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key_file)
    return context, cert
