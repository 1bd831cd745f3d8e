"""Which push a log line is about: its push id on every line, its openid only shortened."""

from __future__ import annotations

import hashlib
import logging
from contextvars import ContextVar, Token
from dataclasses import dataclass


@dataclass(frozen=True)
class PushContext:
    push_id: str
    openid: str


# The response header that carries a push's id to the access log line of its request.
PUSH_HEADER = "X-Kefu-Push"

_CURRENT: ContextVar[PushContext | None] = ContextVar("kefu_push", default=None)


def push_id_for(dedup_key: str) -> str:
    """A short stable id for a push and all its retries; it reveals nothing of the user."""
    return hashlib.sha256(dedup_key.encode("utf-8")).hexdigest()[:16]


def short_openid(openid: str) -> str:
    """An openid as logs may show it: its first 4 characters and a hash, never the whole."""
    return f"{openid[:4]}~{hashlib.sha256(openid.encode('utf-8')).hexdigest()[:8]}"


def current_push_id() -> str | None:
    context = _CURRENT.get()
    return None if context is None else context.push_id


def about_push(dedup_key: str, openid: str) -> AboutPush:
    """Within the block, every log line of this thread is about this push; gives its id:
    ``with about_push(key, openid) as push_id``."""
    return AboutPush(PushContext(push_id_for(dedup_key), openid))


class AboutPush:
    """about_push's block. # NOTE: a class, not a @contextmanager generator: it is entered for
    every push, and the generator's machinery cost more than setting the context itself."""

    def __init__(self, context: PushContext) -> None:
        self._context = context
        self._token: Token[PushContext | None] | None = None

    def __enter__(self) -> str:
        self._token = _CURRENT.set(self._context)
        return self._context.push_id

    def __exit__(self, *exc_info: object) -> None:
        if self._token is not None:
            _CURRENT.reset(self._token)


class PushContextFilter(logging.Filter):
    """Gives each record `push_id` and replaces the push's openid in its text by the short form."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = _CURRENT.get()
        record.push_id = None if context is None else context.push_id
        if context is None or not context.openid:
            return True
        shown = short_openid(context.openid)
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is logging's problem to report, not ours
            return True
        if context.openid in message:
            record.msg, record.args = message.replace(context.openid, shown), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = record.exc_text.replace(context.openid, shown)
        return True
