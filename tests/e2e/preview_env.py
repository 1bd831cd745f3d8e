"""What the preview tests share: the contract's rules with images served on 127.0.0.1, and
`kefu preview` run as a real process."""

from __future__ import annotations

import http.server
import json
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from entrypoints.cli.gunicorn_process import ROOT, free_port
from tests.documents import CONTRACT_DOCUMENT

POSTER = (ROOT / "config" / "demo" / "poster.jpg").read_bytes()
POSTER02 = (ROOT / "config" / "demo" / "poster02.png").read_bytes()
THUMB = POSTER02
SCRIPT_TEXT = '<script>document.title="owned"</script><img src=x onerror="document.title=1">'


_FILES = {"/cms/poster.jpg": ("image/jpeg", POSTER), "/thumb.png": ("image/png", THUMB)}


class _ImageHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        kind, data = _FILES.get(self.path, ("text/plain", b""))
        self.send_response(200 if data else 404)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@contextmanager
def image_host() -> Iterator[str]:
    """An HTTP server on 127.0.0.1 standing in for the CMS's image host; its base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ImageHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def preview_document(images: str) -> dict[str, object]:
    """Contract section 4 (its web images on the local host), with the 4.1 additions."""
    document = json.loads(json.dumps(CONTRACT_DOCUMENT))
    document["1"]["thumb_url"] = f"{images}/thumb.png"
    document["2"]["url"] = f"{images}/cms/poster.jpg"
    return {
        "@enter": {"type": "text", "text": '您好！<a href="https://example.com/help">帮助</a>'},
        **document,
        "活动": {
            "type": "miniprogrampage",
            "title": "本月活动",
            "pagepath": "pages/event/index?id=42",
            "thumb": "/cms/poster02.png",
        },
        "人工": {"type": "transfer"},
        "re:下载|安装": {"type": "text", "text": "回复 1 获取下载链接"},
        "脚本": {"type": "text", "text": SCRIPT_TEXT},
        "4": {"type": "image", "url": "/cms/missing.png"},
        "<b>粗</b>": {"type": "text", "text": "<i>斜</i>"},
    }


def write_rules(folder: Path, document: Mapping[str, object]) -> None:
    """rules.json and media/cms/poster02.png in folder, as kefu_settings expects them."""
    (folder / "media" / "cms").mkdir(parents=True, exist_ok=True)
    (folder / "media" / "cms" / "poster02.png").write_bytes(POSTER02)
    text = json.dumps(document, ensure_ascii=False)
    (folder / "rules.json").write_text(text, encoding="utf-8")


@contextmanager
def kefu_preview(settings: Mapping[str, str], *args: str, cwd: Path = ROOT) -> Iterator[str]:
    """`kefu preview --port P` as its own process, run in cwd; the URL it prints."""
    port = free_port()
    command = [sys.executable, "-m", "entrypoints.cli.main", "preview", "--port", str(port)]
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), **settings}
    process = subprocess.Popen(
        [*command, *args], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    stdout = process.stdout

    def read() -> None:
        for line in stdout:
            lines.put(line.decode())

    threading.Thread(target=read, daemon=True).start()
    try:
        seen = [lines.get(timeout=30)]
        while not seen[-1].startswith("kefu preview: "):  # log lines come first
            seen.append(lines.get(timeout=30))
        assert seen[-1].startswith("kefu preview: http://127.0.0.1:"), seen
        yield seen[-1].split()[2]
    finally:
        process.terminate()
        process.wait(10)
