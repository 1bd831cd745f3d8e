"""The queue's unpickler reads what every supported Python writes, and nothing else."""

from __future__ import annotations

import pytest

from adapters.queue.journal import JobState
from adapters.queue.serializer import QueueSerializer, RefusedValue
from domain.replies import TextReply


class PickledAs:
    """Pickles as `getattr(owner, name)`: how Python 3.11.0 to 3.11.3 pickle an enum member."""

    def __init__(self, owner: object, name: str) -> None:
        self.owner, self.name = owner, name

    def __reduce__(self) -> tuple[object, tuple[object, str]]:
        return getattr, (self.owner, self.name)


def test_an_enum_member_pickled_by_name_as_debian_12s_python_does_is_read():
    data = QueueSerializer().serialize([PickledAs(JobState, "RUNNING")])
    assert b"getattr" in data
    assert QueueSerializer().deserialize(data) == [JobState.RUNNING]


@pytest.mark.parametrize(
    "owner, name", [(TextReply, "__init__"), (JobState, "__class__"), ("a text", "upper")]
)
def test_getattr_on_anything_but_an_allowed_enums_member_is_refused(owner, name):
    data = QueueSerializer().serialize(PickledAs(owner, name))
    with pytest.raises(RefusedValue):
        QueueSerializer().deserialize(data)
