"""gunicorn settings for kefu; every value can be overridden from the environment."""

import multiprocessing
import os
import sys
import tempfile
from typing import Any

# NOTE: WeChat only calls ports 80 and 443; put a TLS proxy in front and bind kefu locally.
_host = os.environ.get("HOST", "127.0.0.1")
bind = os.environ.get("GUNICORN_BIND") or f"{_host}:{os.environ.get('PORT', '8000')}"

# Handling a push waits on WeChat's API and the CMS, so threads, not cores, set the concurrency.
# gunicorn's gthread worker, closing its listeners as soon as it is told to stop (see the class).
worker_class = "entrypoints.service.gunicorn_worker.PromptStopWorker"
workers = int(os.environ.get("WEB_CONCURRENCY", min(4, multiprocessing.cpu_count() + 1)))
threads = int(os.environ.get("GUNICORN_THREADS", "8"))

# WeChat gives up after 5 seconds and retries; a request stuck far longer is stuck for good.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "10"))
keepalive = 5

# Pushes are small; refuse oversized request lines and headers early.
limit_request_line = 4094
limit_request_fields = 50

# gunicorn 27's control socket sits at one path per user (~/.gunicorn/gunicorn.ctl), which every
# kefu instance of that user would share. kefu needs none: off, unless a path of its own is given.
if os.environ.get("GUNICORN_CONTROL_SOCKET"):
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]
else:
    control_socket_disable = True

accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-")
errorlog = "-"
loglevel = os.environ.get("KEFU_LOG_LEVEL", "info").lower()
# The metrics server the master runs (at most one), stopped on exit.
_metrics: list[Any] = []

# KEFU_LOG_FORMAT=json: gunicorn's own lines become JSON objects too (kefu's are set in the app).
if os.environ.get("KEFU_LOG_FORMAT", "").strip().lower() == "json":
    from adapters.logs.formats import gunicorn_logconfig

    logconfig_dict = gunicorn_logconfig(loglevel.upper())
# The query string carries signatures, not secrets, but keep access lines short.
# A push's access line carries its push id (the X-Kefu-Push header kefu answers with).
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms push=%({x-kefu-push}o)s'


def on_starting(server: Any) -> None:
    """Check the settings once in the master, so a bad one stops start-up with a clear line;
    then serve the workers' summed metrics from here on KEFU_METRICS_ADDR."""
    from entrypoints.service.listen_check import CannotListen, check_can_listen

    try:  # before anything is created that a failed start would leave behind
        check_can_listen(server.cfg.address)
    except CannotListen as taken:
        print(f"kefu: {taken}", file=sys.stderr)
        raise SystemExit(2) from None
    # prometheus_client picks its multiprocess mode when first imported: name the folder first.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="kefu-metrics-")
    from entrypoints.service.bootstrap import load_settings
    from entrypoints.service.metrics_server import (
        MetricsAddressError,
        remove_multiprocess_dir,
        serve_metrics,
    )

    try:
        settings = load_settings()
        if settings.metrics_addr is not None:
            ports = [address[1] for address in server.cfg.address if isinstance(address, tuple)]
            _metrics.append(serve_metrics(settings.metrics_addr, ports))
            server.log.info("Metrics at: %s", _metrics[-1].url)
        else:
            server.log.info("Metrics: off (KEFU_METRICS_ADDR=off)")
    except MetricsAddressError as bad:
        remove_multiprocess_dir()
        print(f"kefu: {bad}", file=sys.stderr)
        raise SystemExit(2) from None
    except SystemExit:
        remove_multiprocess_dir()
        raise


def post_fork(server: Any, worker: Any) -> None:
    for running in _metrics:
        running.forget_in_child()


def child_exit(server: Any, worker: Any) -> None:
    from entrypoints.service.metrics_server import process_exited

    process_exited(worker.pid)


def on_exit(server: Any) -> None:
    from entrypoints.service.metrics_server import remove_multiprocess_dir

    for running in _metrics:
        running.stop()
    remove_multiprocess_dir()


def worker_exit(server: object, worker: object) -> None:
    """Let the worker's reply senders finish, stop its rules watcher, close its state store."""
    import sys

    wsgi = sys.modules.get("entrypoints.wsgi")
    if wsgi is not None:  # a worker that failed to load the app has nothing to stop
        # Within the graceful timeout, after which the master kills the worker.
        wsgi.service.stop(grace=0.8 * server.cfg.graceful_timeout)  # type: ignore[attr-defined]
