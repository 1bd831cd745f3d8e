"""The values the WeChat sandbox records: calls as they arrived, pending faults, uploads."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

TAMPERINGS = ("data", "signature", "certificate", "unsigned")


@dataclass(frozen=True)
class Call:
    """One call to the fake WeChat API as it arrived, and the errcode it got."""

    path: str
    method: str
    errcode: int
    body: Mapping[str, object] = field(default_factory=dict)
    raw: str | None = None  # the body text exactly as sent; never kept for calls carrying secrets
    sealed: bool = False  # came encrypted and signed (API security mode); raw is then the plaintext

    def as_json(self) -> dict[str, object]:
        body = dict(self.body)
        return {
            "path": self.path,
            "method": self.method,
            "errcode": self.errcode,
            "body": body,
            "raw": self.raw,
            "sealed": self.sealed,
        }


@dataclass(frozen=True)
class Fault:
    """Misbehaviour for the next `times` calls to `path`: stall first, then answer `errcode`,
    or an HTTP error `status` (5xx from a proxy in front of WeChat) with an HTML page.

    `tamper` (API security mode): the sealed answer reaches the caller with one byte of its
    `data` changed, one byte of its signature changed, or signed with another certificate's key;
    or "unsigned": the answer in the clear without signature, as anyone on the path can write it.
    """

    path: str
    times: int = 1
    errcode: int | None = None
    stall: float = 0.0
    tamper: str | None = None
    status: int | None = None

    @classmethod
    def from_json(cls, data: object) -> Fault:
        """Raises ValueError unless data is {"path", "times"?, and "errcode", "stall", "tamper"
        or "status"}."""
        if not isinstance(data, dict) or not isinstance(data.get("path"), str):
            raise ValueError("a fault needs a path")
        times, errcode, stall = data.get("times", 1), data.get("errcode"), data.get("stall", 0.0)
        if type(times) is not int or times < 1:
            raise ValueError("times must be a positive integer")
        if errcode is not None and type(errcode) is not int:
            raise ValueError("errcode must be an integer")
        tamper = data.get("tamper")
        if tamper is not None and tamper not in TAMPERINGS:
            raise ValueError(f"tamper must be one of {', '.join(TAMPERINGS)}")
        status = data.get("status")
        if status is not None and (type(status) is not int or not 400 <= status <= 599):
            raise ValueError("status must be an HTTP error status, 400 to 599")
        if type(stall) not in (int, float) or stall < 0:
            raise ValueError("stall must be a number of seconds")
        if errcode is None and not stall and tamper is None and status is None:
            raise ValueError("a fault needs an errcode, a positive stall, a tamper or a status")
        return cls(data["path"], times, errcode, float(stall), tamper, status)


@dataclass(frozen=True)
class Media:
    media_id: str
    filename: str
    content_type: str
    size: int
    created_at: int
