"""The values the WeChat sandbox records: calls as they arrived, pending faults, uploads."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


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
