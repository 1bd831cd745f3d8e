"""What the WeChat sandbox remembers (tokens, uploads, calls, faults) and how it judges bodies."""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

TOKEN_LIFETIME = 7200
# NOTE: WeChat renews a stable token 5 min before expiry and replaced /cgi-bin/token tokens keep
# working for 5 min; both overlaps are this long.
OVERLAP = 300
MEDIA_LIFETIME = 3 * 24 * 3600
SEND_PATH = "/cgi-bin/message/custom/send"

ERRMSG: Mapping[int, str] = {
    -1: "system error",
    0: "ok",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40003: "invalid openid",
    40004: "invalid media type",
    40007: "invalid media_id",
    40008: "invalid message type",
    40013: "invalid appid",
    40101: "missing parameter",
    40125: "invalid appsecret",
    41001: "access_token missing",
    41002: "appid missing",
    41004: "appsecret missing",
    41005: "media data missing",
    42001: "access_token expired",
    43002: "require POST method",
    44002: "empty post data",
    44004: "empty content",
    45002: "content size out of limit",
    45009: "reach max api daily quota limit",
    45011: "api minute-quota reach limit must slower retry next minute",
    45015: "response out of time limit or subscription is canceled",
    45047: "out of response count limit",
    45072: "invalid command",
    45080: "no interaction within the previous 30 s",
    45081: "already typing",
    47001: "data format error",
    48001: "api unauthorized",
}


def errmsg(errcode: int) -> str:
    return ERRMSG.get(errcode, "sandbox fault")


@dataclass(frozen=True)
class Call:
    """One call to the fake WeChat API as it arrived, and the errcode it got."""

    path: str
    method: str
    errcode: int
    body: Mapping[str, object] = field(default_factory=dict)
    raw: str | None = None  # the body text exactly as sent; never kept for calls carrying secrets

    def as_json(self) -> dict[str, object]:
        body = dict(self.body)
        return {
            "path": self.path,
            "method": self.method,
            "errcode": self.errcode,
            "body": body,
            "raw": self.raw,
        }


@dataclass(frozen=True)
class Fault:
    """Misbehaviour for the next `times` calls to `path`: stall first, then answer `errcode`."""

    path: str
    times: int = 1
    errcode: int | None = None
    stall: float = 0.0

    @classmethod
    def from_json(cls, data: object) -> Fault:
        """Raises ValueError unless data is {"path", "times"?, and "errcode" and/or "stall"}."""
        if not isinstance(data, dict) or not isinstance(data.get("path"), str):
            raise ValueError("a fault needs a path")
        times, errcode, stall = data.get("times", 1), data.get("errcode"), data.get("stall", 0.0)
        if type(times) is not int or times < 1:
            raise ValueError("times must be a positive integer")
        if errcode is not None and type(errcode) is not int:
            raise ValueError("errcode must be an integer")
        if type(stall) not in (int, float) or stall < 0 or (errcode is None and not stall):
            raise ValueError("a fault needs an errcode or a positive stall")
        return cls(data["path"], times, errcode, float(stall))


@dataclass(frozen=True)
class Media:
    media_id: str
    filename: str
    content_type: str
    size: int
    created_at: int


@dataclass(frozen=True)
class _Token:
    expires_at: float
    late_errcode: int  # 42001 once it ran out, 40001 once a newer /cgi-bin/token replaced it


class SandboxState:
    """Everything the sandbox keeps, safe to share between the threads of a threaded server."""

    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        new_id: Callable[[], str] = lambda: secrets.token_urlsafe(64),
        new_media_id: Callable[[], str] = lambda: secrets.token_urlsafe(48),
    ) -> None:
        """new_id makes access tokens, new_media_id media ids."""
        self.clock, self.sleep = clock, sleep
        self._new_id, self._new_media_id = new_id, new_media_id
        self._lock = threading.Lock()
        self._tokens: dict[str, _Token] = {}
        self._stable: str | None = None
        self._plain: str | None = None
        self._media: dict[str, Media] = {}
        self._calls: list[Call] = []
        self._faults: list[Fault] = []

    def issue_stable(self, force_refresh: bool) -> tuple[str, int]:
        """The stable token and its remaining seconds; a new one when forced or nearly expired."""
        with self._lock:
            now = self.clock()
            stable = self._stable or ""
            if force_refresh:
                self._tokens.pop(stable, None)
            current = self._tokens.get(stable)
            if current is None or current.expires_at - now <= OVERLAP:
                stable = self._stable = self._issue(now)
                current = self._tokens[stable]
            return stable, int(current.expires_at - now)

    def issue_plain(self) -> tuple[str, int]:
        """A new /cgi-bin/token token; the one it replaces stays valid OVERLAP seconds more."""
        with self._lock:
            now = self.clock()
            old = self._tokens.get(self._plain or "")
            if self._plain is not None and old is not None:
                ends = min(old.expires_at, now + OVERLAP)
                self._tokens[self._plain] = _Token(ends, 40001)
            self._plain = self._issue(now)
            return self._plain, TOKEN_LIFETIME

    def _issue(self, now: float) -> str:
        token = self._new_id()
        self._tokens[token] = _Token(now + TOKEN_LIFETIME, 42001)
        return token

    def check_token(self, token: str | None) -> int:
        """0 for a token in force, else the errcode WeChat gives for it."""
        if not token:
            return 41001
        with self._lock:
            known = self._tokens.get(token)
        if known is None:
            return 40001
        return known.late_errcode if self.clock() >= known.expires_at else 0

    def revoke_tokens(self) -> None:
        """Forget every token, as if another party had force-refreshed."""
        with self._lock:
            self._tokens.clear()
            self._stable = self._plain = None

    def add_media(self, filename: str, content_type: str, size: int) -> Media:
        media = Media(self._new_media_id(), filename, content_type, size, int(self.clock()))
        with self._lock:
            self._media[media.media_id] = media
        return media

    def knows_media(self, media_id: str) -> bool:
        with self._lock:
            media = self._media.get(media_id)
        return media is not None and self.clock() < media.created_at + MEDIA_LIFETIME

    @property
    def media(self) -> list[Media]:
        with self._lock:
            return list(self._media.values())

    def add_fault(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def take_fault(self, path: str) -> Fault | None:
        """The first pending fault for path, used up once; faults for a path run in order added."""
        with self._lock:
            for index, fault in enumerate(self._faults):
                if fault.path == path:
                    if fault.times > 1:
                        self._faults[index] = replace(fault, times=fault.times - 1)
                    else:
                        del self._faults[index]
                    return fault
        return None

    @property
    def faults(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def record(self, call: Call) -> None:
        with self._lock:
            self._calls.append(call)

    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    @property
    def sent(self) -> list[Mapping[str, object]]:
        """Bodies of the customer-service messages WeChat accepted, in order: what the user saw."""
        return [c.body for c in self.calls if c.path == SEND_PATH and c.errcode == 0]

    def clear_calls(self) -> None:
        with self._lock:
            self._calls.clear()


# NOTE: WeChat's text limit is UNCONFIRMED; 2048 UTF-8 bytes (measured) is the safe reading.
MAX_TEXT_BYTES = 2048
FIELDS: Mapping[str, tuple[str, ...]] = {
    "text": ("content",),
    "image": ("media_id",),
    "link": ("title", "description", "url", "thumb_url"),
    "miniprogrampage": ("title", "pagepath", "thumb_media_id"),
}
_MEDIA_FIELDS = frozenset({"media_id", "thumb_media_id"})
TYPING_COMMANDS = frozenset({"Typing", "CancelTyping"})


def parse_json(raw: bytes) -> tuple[int, dict[str, object]]:
    """(0, object) for a UTF-8 JSON object, else the errcode and an empty dict."""
    if not raw.strip():
        return 44002, {}
    try:
        data = json.loads(raw.decode("utf-8"))
    except ValueError:
        # NOTE: 47001 data format error is WeChat's global code for unparsable bodies; the
        # reference lists none for this case.
        return 47001, {}
    return (0, data) if isinstance(data, dict) else (47001, {})


def check_send(message: Mapping[str, object], knows_media: Callable[[str], bool]) -> int:
    """The errcode WeChat gives a customer-service message body, 0 when it is well formed."""
    touser = message.get("touser")
    if not isinstance(touser, str) or not touser.strip():
        return 40003
    msgtype = message.get("msgtype")
    if not isinstance(msgtype, str) or msgtype not in FIELDS:
        # NOTE: the reference documents no code for this; 40008 invalid message type is WeChat's
        # global code for it, closer than -1 system error (which callers retry).
        return 40008
    item = message.get(msgtype)
    if msgtype == "text":
        return _check_text(item)
    if not isinstance(item, dict):
        return 40101
    for name in FIELDS[msgtype]:
        value = item.get(name)
        # NOTE: the reference lists every field as required; empty strings count as missing.
        if not isinstance(value, str) or not value:
            return 40101
        if name in _MEDIA_FIELDS and not knows_media(value):
            return 40007
    return 0


def _check_text(item: object) -> int:
    content = item.get("content") if isinstance(item, dict) else None
    if not isinstance(content, str) or not content:
        return 44004
    return 45002 if len(content.encode("utf-8")) > MAX_TEXT_BYTES else 0


def check_typing(message: Mapping[str, object]) -> int:
    touser = message.get("touser")
    if not isinstance(touser, str) or not touser.strip():
        return 40003
    return 0 if message.get("command") in TYPING_COMMANDS else 45072
