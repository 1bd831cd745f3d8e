"""/metrics on KEFU_METRICS_ADDR: from gunicorn's master, summing its workers' files."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from threading import Thread
from wsgiref.simple_server import WSGIServer

from prometheus_client import REGISTRY, CollectorRegistry, multiprocess, start_http_server

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"


class MetricsAddressError(Exception):
    """KEFU_METRICS_ADDR cannot be served; the message says why (one line, no secret)."""


@dataclass
class MetricsServer:
    url: str
    _server: WSGIServer
    _thread: Thread

    def forget_in_child(self) -> None:
        """In a forked worker: drop the inherited listening socket, which only the master serves.

        Otherwise a worker finishing its requests after the master exited would hold the port,
        and a restarted kefu could not bind it.
        """
        self._server.socket.close()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def serve_metrics(address: tuple[str, int], callback_ports: Iterable[int] = ()) -> MetricsServer:
    """Serve this process's metrics, or all processes' when PROMETHEUS_MULTIPROC_DIR is set.

    Raises MetricsAddressError for the callback's own port or an address that cannot be bound.
    """
    host, port = address
    shown = f"KEFU_METRICS_ADDR={host}:{port}"
    if port in set(callback_ports):
        raise MetricsAddressError(
            f"{shown} is the callback's port: give metrics a port of their own"
        )
    registry = REGISTRY
    if os.environ.get(MULTIPROCESS_DIR):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    try:
        server, thread = start_http_server(port, host, registry)
    except OSError as exc:
        raise MetricsAddressError(f"{shown} cannot be served: {exc.strerror or exc}") from None
    return MetricsServer(f"http://{host}:{server.server_port}/metrics", server, thread)


def process_exited(pid: int) -> None:
    """Drop an exited worker's live gauges (its counters stay in the sums)."""
    if os.environ.get(MULTIPROCESS_DIR):
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


def remove_multiprocess_dir() -> None:
    folder = os.environ.get(MULTIPROCESS_DIR)
    if folder:
        shutil.rmtree(Path(folder), ignore_errors=True)
