"""A local stand-in for the part of WeChat's server API kefu calls, for tests and the demo."""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import socketserver
import sys
import threading
from dataclasses import dataclass
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from entrypoints.sandbox.checks import errmsg
from entrypoints.sandbox.records import Call
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


HELP = "run the local WeChat API sandbox on 127.0.0.1, to try kefu by hand"
DEFAULT_PORT = 9100
EPILOG = """\
The sandbox answers the API paths kefu calls (/cgi-bin/stable_token, /cgi-bin/token,
/cgi-bin/media/upload, /cgi-bin/message/custom/send and /business/typing) as WeChat does, for the
given AppID and AppSecret only, and prints one line per call. Point kefu at it with
KEFU_WECHAT_API_BASE=http://127.0.0.1:PORT. Its own routes:

  GET    /sandbox/calls          every call so far, with its errcode and body
  DELETE /sandbox/calls          forget them
  POST   /sandbox/faults         make the next calls to a path fail or stall, e.g.
         {"path": "/cgi-bin/message/custom/send", "errcode": -1, "times": 2}
         {"path": "/cgi-bin/stable_token", "stall": 6}   (answer after 6 s)
         {"path": "/cgi-bin/stable_token", "errcode": 40164}   (IP not whitelisted)
         faults for one path are used up in the order they were added
  GET    /sandbox/faults         faults not used up yet
  DELETE /sandbox/faults         clear them
  POST   /sandbox/tokens/revoke  invalidate every access token issued so far

Stop it with Ctrl-C.
"""


def add_command(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`kefu sandbox`: serve until interrupted."""
    command = subparsers.add_parser(
        "sandbox",
        help=HELP,
        description=HELP,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_arguments(command)
    command.set_defaults(run=run)


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"0 picks a free port ({DEFAULT_PORT})"
    )
    parser.add_argument(
        "--appid", default=os.environ.get("KEFU_APPID"), help="the AppID it accepts ($KEFU_APPID)"
    )
    parser.add_argument(
        "--appsecret",
        default=os.environ.get("KEFU_APPSECRET"),
        help="the AppSecret it accepts ($KEFU_APPSECRET)",
    )
    parser.add_argument("--quiet", action="store_true", help="do not print each call")
    parser.add_argument(
        "--no-business-typing",
        action="store_true",
        help="answer /cgi-bin/message/custom/business/typing as an API that does not exist",
    )


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM; 2 without credentials."""
    if not args.appid or not args.appsecret:
        print(
            "kefu sandbox: --appid and --appsecret (or KEFU_APPID and KEFU_APPSECRET) are required",
            file=sys.stderr,
        )
        return 2
    state = SandboxState(on_call=None if args.quiet else _print_call)
    server = serve_sandbox(
        args.host,
        args.port,
        args.appid,
        args.appsecret,
        state,
        business_typing=not args.no_business_typing,
    )
    print(f"WeChat sandbox on {server.url}  (calls: {server.url}/sandbox/calls)", flush=True)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.wait()
    except KeyboardInterrupt:
        print("WeChat sandbox stopped", flush=True)
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.stop()
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _print_call(call: Call) -> None:
    body = json.dumps(call.body, ensure_ascii=False, separators=(",", ":"))
    print(f"{call.method} {call.path} -> {call.errcode} {errmsg(call.errcode)}  {body}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m entrypoints.sandbox.main",
        description=HELP,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
