"""The demo's scripted chat: each step pushed through kefu, then what the user saw."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TextIO

import requests

from adapters.logs.escaping import escape_controls
from adapters.wechat_push.fields import PushFormat
from entrypoints.cli.push_poster import NoResponse, PushPoster
from entrypoints.cli.push_simulator import Mode, PushSimulator
from entrypoints.demo.transcript import NOTE, USER, Call, fetch_calls, what_the_user_saw
from entrypoints.sandbox.state import SEND_PATH


@dataclass(frozen=True)
class Step:
    """One thing the user does: type text, or (text None) enter the chat."""

    text: str | None

    @property
    def said(self) -> str:
        return "(enters the customer-service chat)" if self.text is None else self.text

    def fields(self, simulator: PushSimulator, openid: str) -> dict[str, str | int]:
        if self.text is None:
            return simulator.enter(openid)
        return simulator.text(self.text, openid)


SCRIPT = (Step(None), Step("1"), Step("2"), Step("3"), Step("在吗？有人吗"))


class Conversation:
    """Plays steps through kefu as one user and prints, after each, what that user saw."""

    settle = 0.3  # seconds without a new call before a step's replies count as complete
    patience = 5.0  # seconds to wait for a step's first reply

    def __init__(
        self,
        simulator: PushSimulator,
        poster: PushPoster,
        sandbox_url: str,
        out: TextIO,
        *,
        openid: str,
        fmt: PushFormat = PushFormat.JSON,
        mode: Mode = Mode.SAFE,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._simulator, self._poster, self._sandbox = simulator, poster, sandbox_url
        self._out, self._openid, self._fmt, self._mode = out, openid, fmt, mode
        self._clock, self._sleep = clock, sleep
        self._session = requests.Session()

    def play(self, steps: Iterable[Step]) -> int:
        """The number of steps whose push was not answered 200."""
        return sum(0 if self.step(step) else 1 for step in steps)

    def step(self, step: Step) -> bool:
        before = len(fetch_calls(self._sandbox, self._session))
        self._print("")
        self._print(f"{USER} {step.said}")
        push = self._simulator.build(
            step.fields(self._simulator, self._openid), self._fmt, self._mode
        )
        try:
            answer = self._poster.post(push)
        except NoResponse as missing:
            self._print(f"{NOTE} (push got no answer: {missing.reason})")
            return False
        self._print(f"{NOTE} (push answered {answer.line()})")
        every = self._calls_after(before)
        for line in what_the_user_saw(every[before:], every):
            self._print(line)
        return answer.ok

    def _calls_after(self, before: int) -> list[Call]:
        """All calls, once a send came after `before` and the calls stopped for `settle` s."""
        deadline, changed = self._clock() + self.patience, self._clock()
        calls: list[Call] = []
        while self._clock() < deadline:
            latest = fetch_calls(self._sandbox, self._session)
            if len(latest) != len(calls):
                calls, changed = latest, self._clock()
            elif self._clock() - changed >= self.settle and _any_send(calls[before:]):
                break
            self._sleep(0.05)
        return calls

    def _print(self, line: str) -> None:
        print(escape_controls(line), file=self._out, flush=True)


def _any_send(calls: Iterable[Call]) -> bool:
    return any(call["path"] == SEND_PATH for call in calls)
