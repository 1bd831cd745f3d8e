"""The chaos soak's traffic: users who each type eight keywords in turn, posted as WeChat posts.

Every reply part a user can get is distinct for that user, so each delivery names its push and
a user's deliveries show the order their replies went out in.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import requests

from adapters.wechat_push.fields import PushFormat
from entrypoints.cli.push_simulator import Mode, PushSimulator, SignedPush
from tests.images import png

Part = tuple[str, str]
"""("text", content) or ("image", the uploaded file's name)."""

IMAGE_GROUPS = 20
"""Users take turns over this many pairs of images, so uploads (and upload stalls) go on."""
WECHAT_TIMEOUT = 5.0
"""WeChat gives up on an answer after 5 s and posts the same push again, three times at most."""
WECHAT_RETRIES = 3


def rules_document() -> dict[str, object]:
    document: dict[str, object] = {
        "t0": {"type": "text", "text": "r0"},
        "t2": {"type": "text", "text": "r2"},
        "m3": [{"type": "text", "text": "r3"}, {"type": "image", "url": "/cms/m3.png"}],
        "t4": {"type": "text", "text": "r4"},
        "l5": [{"type": "text", "text": "r5a"}, {"type": "text", "text": "r5b"}],
        "t7": {"type": "text", "text": "r7"},
    }
    for group in range(IMAGE_GROUPS):
        for side in "ab":
            document[f"{side}{group}"] = {"type": "image", "url": f"/cms/{side}{group}.png"}
    return document


def write_images(cms: Path) -> None:
    """One PNG per image rule, each of its own colour (the media cache keys on the content)."""
    cms.mkdir(parents=True, exist_ok=True)
    (cms / "m3.png").write_bytes(png(rgb=(1, 2, 3)))
    for group in range(IMAGE_GROUPS):
        for shade, side in enumerate("ab"):
            (cms / f"{side}{group}.png").write_bytes(png(rgb=(group, shade, 200)))


def user_run(user: int) -> list[tuple[str, tuple[Part, ...]]]:
    """The keywords user number `user` types, in order, each with the parts it should get."""
    group = user % IMAGE_GROUPS
    return [
        ("t0", (("text", "r0"),)),
        (f"a{group}", (("image", f"a{group}.png"),)),
        ("t2", (("text", "r2"),)),
        ("m3", (("text", "r3"), ("image", "m3.png"))),
        ("t4", (("text", "r4"),)),
        ("l5", (("text", "r5a"), ("text", "r5b"))),
        (f"b{group}", (("image", f"b{group}.png"),)),
        ("t7", (("text", "r7"),)),
    ]


def openid(user: int) -> str:
    # `kefu dead-letters` shows an openid's first 4 and last 2 characters: these tell users apart.
    return f"u{user:03d}-chaos"


@dataclass
class Push:
    """One push as posted, with each of WeChat's attempts at it (a retry reuses the push)."""

    msg_id: int
    user: str
    index: int
    keyword: str
    parts: tuple[Part, ...]
    attempts: list[tuple[float, float, str]] = field(default_factory=list)
    """(monotonic start, seconds to the answer, outcome) of each post."""
    acked_at: float | None = None


class Traffic:
    """`lanes` threads, each a run of users typing one keyword every `lanes / rate` seconds."""

    def __init__(self, url: str, simulator: PushSimulator, rate: float, lanes: int = 8) -> None:
        self.url, self.simulator, self.lanes = url, simulator, lanes
        self.interval = lanes / rate
        self.pushes: list[Push] = []
        self._lock = threading.Lock()
        self._users = itertools.count()
        self._msg_ids = itertools.count(1)

    def run(self, until: float) -> None:
        """Post until the monotonic clock reaches `until`; returns when every lane has stopped."""
        threads = [
            threading.Thread(target=self._lane, args=(until,), name=f"chaos-lane{n}")
            for n in range(self.lanes)
        ]
        for n, thread in enumerate(threads):
            thread.start()
            time.sleep(self.interval / self.lanes if n < self.lanes - 1 else 0)
        for thread in threads:
            thread.join()

    def _lane(self, until: float) -> None:
        session = requests.Session()
        next_at = time.monotonic()
        while time.monotonic() < until:
            with self._lock:
                user = next(self._users)
            for index, (keyword, parts) in enumerate(user_run(user)):
                next_at = max(next_at + self.interval, time.monotonic())
                if time.monotonic() >= until:
                    return
                with self._lock:
                    push = Push(next(self._msg_ids), openid(user), index, keyword, parts)
                    self.pushes.append(push)
                self._post(session, push)
                time.sleep(max(0.0, next_at - time.monotonic()))

    def _post(self, session: requests.Session, push: Push) -> None:
        fields = self.simulator.text(push.keyword, push.user, msg_id=push.msg_id)
        signed = self.simulator.build(fields, PushFormat.JSON, Mode.SAFE)
        for _ in range(1 + WECHAT_RETRIES):
            started = time.monotonic()
            outcome = _attempt(session, self.url, signed)
            push.attempts.append((started, time.monotonic() - started, outcome))
            if outcome == "success":
                push.acked_at = time.monotonic()
                return
            time.sleep(0.5)


def _attempt(session: requests.Session, url: str, signed: SignedPush) -> str:
    try:
        answer = session.post(
            f"{url}/wechat/callback",
            params=signed.params,
            data=signed.body,
            timeout=WECHAT_TIMEOUT,
        )
    except requests.RequestException as failure:
        return type(failure).__name__
    if answer.status_code == 200 and answer.text == "success":
        return "success"
    return f"HTTP {answer.status_code}"


def acked(pushes: Sequence[Push]) -> list[Push]:
    return [push for push in pushes if push.acked_at is not None]
