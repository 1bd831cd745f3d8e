"""A CMS that sends too much, too slowly or nothing at all, against a real loopback server."""

from __future__ import annotations

import contextlib
import gzip
import json
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from adapters.rules.cms import HttpCmsRuleSource
from adapters.rules.errors import RulesFetchError
from tests.documents import CONTRACT_DOCUMENT

GOOD = json.dumps(CONTRACT_DOCUMENT, ensure_ascii=False).encode()
BOMB_BYTES = 256 * 1024 * 1024


def _bomb() -> bytes:
    """A gzip body of 256 MiB of JSON padding that travels in about 250 KiB."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    parts = [packer.compress(b'{"padding": "')]
    block = b" " * (1024 * 1024)
    parts += [packer.compress(block) for _ in range(BOMB_BYTES // len(block))]
    return b"".join([*parts, packer.compress(b'"}'), packer.flush()])


BOMB = _bomb()


@dataclass
class Cms:
    port: int
    mode: str = "good"
    requests: int = 0
    accept_encoding: str = ""
    release: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/cms/rules"


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        cms = self.server.cms
        cms.requests += 1
        with contextlib.suppress(OSError):  # kefu hung up, as it should
            getattr(self, f"_{cms.mode}")(cms)

    def _good(self, cms: Cms) -> None:
        self._start(len(GOOD))
        self.wfile.write(GOOD)

    def _huge(self, cms: Cms) -> None:
        self._start(None)  # no length: the cap must hold while streaming
        self.wfile.write(b'{"padding": "')
        for _ in range(6 * 16):
            self.wfile.write(b"x" * 65536)

    def _gzip(self, cms: Cms) -> None:
        self._encoded(gzip.compress(GOOD), "gzip")

    def _deflate(self, cms: Cms) -> None:
        self._encoded(zlib.compress(GOOD), "deflate")

    def _bomb(self, cms: Cms) -> None:
        self._encoded(BOMB, "gzip")

    def _encoded(self, body: bytes, encoding: str) -> None:
        self.server.cms.accept_encoding = self.headers.get("Accept-Encoding", "")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Encoding", encoding)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _trickle(self, cms: Cms) -> None:
        self._start(None)
        for byte in GOOD[:60]:
            self.wfile.write(bytes([byte]))
            self.wfile.flush()
            time.sleep(0.3)

    def _hang(self, cms: Cms) -> None:
        cms.release.wait(30)

    def _start(self, length: int | None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if length is not None:
            self.send_header("Content-Length", str(length))
        else:
            self.send_header("Connection", "close")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    cms: Cms


@pytest.fixture
def cms() -> Iterator[Cms]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.cms = Cms(server.server_address[1])
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.cms
    server.cms.release.set()
    server.shutdown()
    server.server_close()


def source(cms: Cms, state: Path, ttl: float = 60.0, max_seconds: float = 15.0):
    return HttpCmsRuleSource(cms.url, ttl, state, max_seconds=max_seconds, spawn=_inline)


def _inline(work: Callable[[], None]) -> None:
    work()


def test_a_document_over_4_mib_is_refused_while_streaming_and_the_last_good_stays(
    cms: Cms, tmp_path: Path
):
    rules = source(cms, tmp_path, ttl=0)  # every call to current() refreshes
    rules.load()
    saved = (tmp_path / "rules.json").read_bytes()
    cms.mode = "huge"
    with pytest.raises(RulesFetchError, match="over the 4194304-byte limit"):
        rules.check()
    assert rules.current().match_text("1") is not None
    assert cms.requests == 3
    assert (tmp_path / "rules.json").read_bytes() == saved


def test_a_trickling_cms_is_dropped_at_the_fetch_deadline(cms: Cms, tmp_path: Path):
    cms.mode = "trickle"
    started = time.monotonic()
    with pytest.raises(RulesFetchError, match="took over 1 s"):
        source(cms, tmp_path, max_seconds=1.0).check()
    assert time.monotonic() - started < 1.5  # 60 bytes at one per 0.3 s would take 18 s


def test_start_up_never_waits_on_a_hanging_cms_when_a_saved_copy_exists(cms: Cms, tmp_path: Path):
    source(cms, tmp_path).load()  # an earlier run saved the document
    cms.mode = "hang"
    restarted = HttpCmsRuleSource(cms.url, 60.0, tmp_path)  # refreshes in a thread of its own
    started = time.monotonic()
    restarted.load()
    assert time.monotonic() - started < 0.5
    assert restarted.current().match_text("1") is not None
    deadline = time.monotonic() + 5
    while cms.requests < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert cms.requests == 2  # the fetch still runs, behind


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_a_compressed_document_is_decoded(cms: Cms, tmp_path: Path, encoding: str):
    cms.mode = encoding
    parsed = source(cms, tmp_path).check()
    assert parsed.rules.match_text("1") is not None
    assert encoding in cms.accept_encoding


def test_a_gzip_bomb_is_cut_at_4_mib_of_decoded_bytes(cms: Cms, tmp_path: Path):
    cms.mode = "bomb"
    tracemalloc.start()
    try:
        with pytest.raises(RulesFetchError, match="over the 4194304-byte limit"):
            source(cms, tmp_path).check()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(BOMB) < 1024 * 1024
    assert peak < 32 * 1024 * 1024  # the whole bomb would be 256 MiB
