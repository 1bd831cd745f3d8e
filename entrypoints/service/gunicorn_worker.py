"""gunicorn's threaded worker, except that it stops listening the moment it is told to stop."""

from __future__ import annotations

from types import FrameType

from gunicorn.workers.gthread import ThreadWorker


class PromptStopWorker(ThreadWorker):  # type: ignore[misc]  # gunicorn ships no type hints
    """On SIGTERM, close the listening sockets at once, then finish the requests in flight.

    The stock worker only stops accepting and keeps its copy of each listening socket open until
    it exits, so the kernel goes on completing new connections that nobody serves: WeChat's
    re-send of a push would hang until its own 5 s timeout. Closed, the port refuses at once
    (the master closed its copy already), and the re-send goes to another instance.
    """

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.alive:
            # Deferred to the worker's own loop: a signal handler must not touch its poller.
            self.method_queue.defer(self._close_listeners)
        super().handle_exit(sig, frame)

    def _close_listeners(self) -> None:
        self.set_accept_enabled(False)
        for listener in self.sockets:
            listener.close()
