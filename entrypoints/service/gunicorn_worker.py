"""gunicorn's threaded worker, except that no thread or loop waits on an idle client, and it
stops listening the moment it is told to stop."""

from __future__ import annotations

import contextlib
import selectors
import socket
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from functools import partial
from types import FrameType
from typing import Any

from gunicorn.http2 import negotiation
from gunicorn.workers.gthread import ThreadWorker

HEAD_END = b"\r\n\r\n"
MAX_HEAD = 64 * 1024  # past this the parser gets it and refuses it (limit_request_line/fields)
# NOTE: WeChat sends a push's whole request in milliseconds; a head still incomplete after 5 s
# (its own timeout) is not WeChat's.
HEAD_SECONDS = 5.0
LINGER_SECONDS = 2.0  # as gunicorn's own close_graceful, but spent on the loop, not waiting
MAX_DRAIN = 64 * 1024


@dataclass
class _Waiting:
    """A connection the worker's loop watches: for the rest of a head, or for the peer's close."""

    deadline: float
    head: bytearray = field(default_factory=bytearray)
    drained: int = 0


class PromptStopWorker(ThreadWorker):  # type: ignore[misc]  # gunicorn ships no type hints
    """gunicorn's gthread worker with two waits moved onto its event loop, and a prompt stop.

    The stock worker waits on clients in two places where one client can stall every push:
    after a `Connection: close` answer its only loop thread lingers up to 2 s for the client to
    close (24 such sockets delayed a push by 6.9 s), and a thread reads a request head as slowly
    as the client sends it (half a request line held a thread for good). Here the loop reads each
    head without blocking and hands a thread only a complete one, and lingers without blocking.

    On SIGTERM it closes the listening sockets at once, then finishes the requests in flight. The
    stock worker keeps its copy of each listening socket open until it exits, so the kernel goes
    on completing connections nobody serves: WeChat's re-send of a push would hang until its own
    5 s timeout. Closed, the port refuses at once and the re-send goes to another instance.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._heads: dict[Any, _Waiting] = {}
        self._closing: dict[Any, _Waiting] = {}
        self._ready: set[Any] = set()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.alive:
            # Deferred to the worker's own loop: a signal handler must not touch its poller.
            self.method_queue.defer(self._close_listeners)
        super().handle_exit(sig, frame)

    def _close_listeners(self) -> None:
        self.set_accept_enabled(False)
        for listener in self.sockets:
            listener.close()

    def enqueue_req(self, conn: Any) -> None:
        """A thread takes the connection once its request head is in (or it has bytes already)."""
        if conn in self._ready or not self._reads_heads(conn) or _buffered(conn):
            self._ready.discard(conn)
            super().enqueue_req(conn)
            return
        conn.sock.setblocking(False)
        # NOTE: the head is most often in already (a keep-alive client's next request made the
        # socket readable; a new client sends its request with the connection): read it now.
        # Waiting for the loop's next turn cost each push a registration with the poller, a
        # select and an unregistration.
        head = bytearray()
        complete = _read_into(conn, head)
        if complete is None:
            self._close(conn)
        elif complete:
            self._hand_over(conn, head)
        else:
            waiting = _Waiting(time.monotonic() + HEAD_SECONDS, head)
            self._watch(conn, self._heads, waiting, self._read_head)

    def finish_request(self, conn: Any, fs: Future[Any]) -> None:
        if fs.cancelled() or fs.exception() is not None or fs.result():
            super().finish_request(conn, fs)
            return
        # Closing: send FIN, then drain what the client still sends, on the loop (RFC 9112 9.6).
        try:
            conn.sock.shutdown(socket.SHUT_WR)
            conn.sock.setblocking(False)
        except OSError:
            self._close(conn)
            return
        self._watch(conn, self._closing, _Waiting(time.monotonic() + LINGER_SECONDS), self._drain)

    def murder_pending(self) -> None:
        super().murder_pending()
        now = time.monotonic()
        for table in (self._heads, self._closing):
            stopping = table is self._heads and not self.alive
            for conn in [c for c, w in table.items() if stopping or w.deadline <= now]:
                self._end(conn, table)

    def _reads_heads(self, conn: Any) -> bool:
        # A TLS or HTTP/2 prior-knowledge connection is parsed by gunicorn from its first byte.
        return not self.cfg.is_ssl and not negotiation.prior_knowledge_allowed(
            self.cfg, conn.client
        )

    def _watch(
        self, conn: Any, table: dict[Any, _Waiting], waiting: _Waiting, callback: Any
    ) -> None:
        """Have the loop call `callback` whenever conn is readable, until `waiting.deadline`."""
        try:
            self.poller.register(conn.sock, selectors.EVENT_READ, partial(callback, conn))
        except (OSError, ValueError, KeyError):  # the client is gone already
            self._close(conn)
            return
        table[conn] = waiting

    def _read_head(self, conn: Any, _sock: object) -> None:
        waiting = self._heads[conn]
        complete = _read_into(conn, waiting.head)
        if complete is None:
            self._end(conn, self._heads)
        elif complete:
            self._forget(conn, self._heads)
            self._hand_over(conn, waiting.head)

    def _hand_over(self, conn: Any, head: bytearray) -> None:
        """Give a thread the connection, its whole request head read."""
        conn.init()  # plain HTTP/1: only makes the parser
        conn.parser.unreader.unread(bytes(head))
        self._ready.add(conn)
        self.enqueue_req(conn)

    def _drain(self, conn: Any, _sock: object) -> None:
        waiting = self._closing[conn]
        piece = _receive(conn.sock)
        if piece is None:
            return
        waiting.drained += len(piece)
        if not piece or waiting.drained >= MAX_DRAIN:
            self._end(conn, self._closing)

    def _forget(self, conn: Any, table: dict[Any, _Waiting]) -> None:
        del table[conn]
        with contextlib.suppress(OSError, KeyError, ValueError):  # closed already
            self.poller.unregister(conn.sock)

    def _end(self, conn: Any, table: dict[Any, _Waiting]) -> None:
        self._forget(conn, table)
        self._close(conn)

    def _close(self, conn: Any) -> None:
        self.nr_conns -= 1
        conn.close()


def _complete(head: bytearray) -> bool:
    """Whether head is a whole request head, or as much as the parser is to see of one."""
    return HEAD_END in head or len(head) >= MAX_HEAD


def _read_into(conn: Any, head: bytearray) -> bool | None:
    """Add what the client sent of its request head to `head`: whether the head is complete
    now, or None once the client closed (or its socket failed)."""
    piece = _receive(conn.sock)
    if piece == b"":
        return None
    head += piece or b""
    return _complete(head)


def _buffered(conn: Any) -> bool:
    return conn.parser is not None and bool(conn.parser.unreader.buf.getvalue())


def _receive(sock: socket.socket) -> bytes | None:
    """What the client sent (b"" once it closed or failed), None when nothing is there yet."""
    try:
        return sock.recv(MAX_DRAIN)
    except BlockingIOError:
        return None
    except OSError:
        return b""
