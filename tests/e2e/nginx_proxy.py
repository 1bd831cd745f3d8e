"""The shipped config/nginx.conf run by a real nginx child process on free loopback ports."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from entrypoints.cli.gunicorn_process import LOCALHOST, ROOT, free_port
from tests.certificates import write_self_signed
from tests.e2e.servers import healthy

SHIPPED = ROOT / "config" / "nginx.conf"


def nginx_binary() -> str:
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if found is None:
        raise RuntimeError("nginx is not installed: apt-get install -y nginx (.ci/run does)")
    return found


@dataclass(frozen=True)
class Nginx:
    http_url: str
    https_url: str
    certificate: Path


def render(
    shipped: str, http_port: int, https_port: int, upstream: str, cert: Path, key: Path
) -> str:
    """The shipped file with only its ports, upstream and certificate paths changed."""
    replacements = [
        (r"listen 80;", f"listen {LOCALHOST}:{http_port};"),
        (r"listen 443 ssl;", f"listen {LOCALHOST}:{https_port} ssl;"),
        (r"server 127\.0\.0\.1:8000;", f"server {upstream};"),
        (r"ssl_certificate \S+;", f"ssl_certificate {cert};"),
        (r"ssl_certificate_key \S+;", f"ssl_certificate_key {key};"),
    ]
    for pattern, value in replacements:
        shipped, count = re.subn(pattern, value, shipped)
        if count != 1:
            raise AssertionError(f"config/nginx.conf no longer has exactly one {pattern!r}")
    return shipped


def _main_config(folder: Path, site: Path) -> str:
    # What /etc/nginx/nginx.conf provides around the site file, kept inside the test's folder.
    temp = " ".join(f"{kind}_temp_path {folder / kind};" for kind in ("client_body", "proxy"))
    temp += "".join(f" {kind}_temp_path {folder / kind};" for kind in ("fastcgi", "uwsgi", "scgi"))
    user = "user root;" if os.geteuid() == 0 else ""
    return (
        f"{user} worker_processes 1; pid {folder / 'nginx.pid'};\n"
        f"error_log {folder / 'error.log'};\n"
        "events { worker_connections 1024; }\n"
        f"http {{ access_log {folder / 'access.log'}; {temp} include {site}; }}\n"
    )


def _self_signed(folder: Path) -> tuple[Path, Path]:
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    write_self_signed(cert_path, key_path, LOCALHOST, ip=LOCALHOST)
    return cert_path, key_path


@contextmanager
def nginx_in_front(upstream: str, folder: Path) -> Iterator[Nginx]:
    """nginx with the shipped site config in front of upstream, stopped afterwards."""
    folder.mkdir(parents=True, exist_ok=True)
    cert, key = _self_signed(folder)
    http_port, https_port = free_port(), free_port()
    site = folder / "kefu.conf"
    site.write_text(
        render(SHIPPED.read_text(encoding="utf-8"), http_port, https_port, upstream, cert, key),
        encoding="utf-8",
    )
    main = folder / "nginx.conf"
    main.write_text(_main_config(folder, site), encoding="utf-8")
    command = [nginx_binary(), "-p", str(folder), "-c", str(main), "-g", "daemon off;"]
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    proxy = Nginx(f"http://{LOCALHOST}:{http_port}", f"https://{LOCALHOST}:{https_port}", cert)
    try:
        _wait_until_up(process, proxy)
        yield proxy
    finally:
        process.send_signal(signal.SIGQUIT)  # graceful: finish what is in flight, then exit
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _wait_until_up(process: subprocess.Popen[bytes], proxy: Nginx) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"nginx exited: {process.stderr.read().decode() if process.stderr else ''}"
            )
        if healthy(proxy.http_url):
            return
        time.sleep(0.1)
    raise RuntimeError("nginx did not answer /healthz in time")
