"""huey's pickle serializer, made to refuse anything but the queue's own values on the way in."""

from __future__ import annotations

import io
import pickle
from enum import Enum
from typing import Any

from huey.serializer import Serializer

from domain.errors import QueueUnavailable

# What a queued task, a journal entry and a dead letter are made of; nothing else is unpickled,
# so a value planted in the queue's Redis or SQLite file cannot run code in a sender.
ALLOWED = {
    "huey.registry": {"Message"},
    "datetime": {"datetime", "timedelta", "timezone"},
    "adapters.queue.journal": {"JournalEntry", "JobState"},
    "adapters.queue.dead_letters": {"DeadLetter"},
    "domain.jobs": {"ReplyJob"},
    "domain.messages": {
        "TextMessage",
        "ImageMessage",
        "MiniProgramPageMessage",
        "EnterSessionEvent",
        "OtherMessage",
    },
    "domain.replies": {
        "ImageRef",
        "TextReply",
        "LinkReply",
        "ImageReply",
        "MiniProgramPageReply",
        "TransferReply",
    },
}


class RefusedValue(QueueUnavailable):
    """The queue's store holds a value kefu did not write there; it is not read."""


class _QueueUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if name in ALLOWED.get(module, ()):
            return super().find_class(module, name)
        if (module, name) == ("builtins", "getattr"):
            return _enum_member
        raise RefusedValue(f"reply queue holds a value naming {module}.{name}: not read")


def _enum_member(owner: object, name: object) -> Enum:
    """What `getattr` may do here: Python 3.11.0 to 3.11.3 (Debian 12's python3) pickle an enum
    member as getattr(its class, its name). Only a member of an enum in ALLOWED is given out."""
    if isinstance(owner, type) and issubclass(owner, Enum) and isinstance(name, str):
        member: Enum | None = owner.__members__.get(name)
        if member is not None and owner.__name__ in ALLOWED.get(owner.__module__, ()):
            return member
    raise RefusedValue(f"reply queue holds a value naming getattr({owner!r}, {name!r}): not read")


class QueueSerializer(Serializer):  # type: ignore[misc]
    """Pickles as huey does; unpickles only the classes in ALLOWED."""

    def _deserialize(self, data: bytes) -> Any:
        try:
            return _QueueUnpickler(io.BytesIO(data)).load()
        except RefusedValue:
            raise
        except Exception as error:  # a truncated or garbled value is refused the same way
            raise RefusedValue(f"reply queue holds an unreadable value: {error}") from error
