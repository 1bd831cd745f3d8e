"""Readiness over its real collaborators' status: ages, and how often a failed token is retried."""

from __future__ import annotations

from adapters.rules.health import RulesStatus
from adapters.state.guard import GuardedStateStore
from adapters.state.memory import MemoryStateStore
from adapters.wechat_api.errors import WeChatApiError
from adapters.wechat_push.previous_use import PreviousUseLog
from entrypoints.service.readiness import TOKEN_RECHECK, Readiness
from tests.fakes import FakeClock


class Rules:
    def __init__(self, status: RulesStatus) -> None:
        self.value = status

    def status(self) -> RulesStatus:
        return self.value


class Token:
    def __init__(self) -> None:
        self.calls = 0
        self.failure: WeChatApiError | None = WeChatApiError(40164, "invalid ip, not in whitelist")

    def __call__(self) -> None:
        self.calls += 1
        if self.failure is not None:
            raise self.failure


def readiness(clock: FakeClock, token: Token, rules: RulesStatus | None = None) -> Readiness:
    loaded = RulesStatus("rules.json", "abc123", 4, 1, clock.now - 150)
    return Readiness(
        Rules(rules or loaded), GuardedStateStore(MemoryStateStore()), "the store", token, clock
    )


def test_a_failed_token_check_is_not_repeated_within_the_recheck_interval():
    clock, token = FakeClock(), Token()
    ready = readiness(clock, token)
    assert ready.report()["checks"]["access_token"]["ok"] is False
    clock.advance(TOKEN_RECHECK - 1)
    ready.report()
    assert token.calls == 1
    token.failure = None
    clock.advance(2)
    assert ready.report()["ready"] is True
    assert token.calls == 2


def test_the_rules_check_shows_their_age_and_a_failing_refresh_without_failing():
    clock = FakeClock()
    failing = RulesStatus("rules.json", "abc123", 4, 1, clock.now - 150, "HTTP 500")
    token = Token()
    token.failure = None
    check = readiness(clock, token, failing).report()["checks"]["rules"]
    assert check == {
        "ok": True,
        "detail": "version abc123: 4 keys, 1 rejected, fetched 2 min ago; "
        "the latest refresh failed: HTTP 500",
        "action": "",
    }


def test_during_a_rotation_status_says_whether_the_previous_key_is_still_in_use():
    clock, token = FakeClock(), Token()
    token.failure = None
    state = GuardedStateStore(MemoryStateStore())
    loaded = RulesStatus("rules.json", "abc123", 4, 0, clock.now)
    names = ("KEFU_ENCODING_AES_KEY_PREVIOUS",)
    ready = Readiness(Rules(loaded), state, "the store", token, clock, previous=names)

    def previous() -> dict[str, object]:
        report = ready.report()
        assert report["ready"] is True  # informative only: it never fails readiness
        check: dict[str, object] = report["checks"]["previous_credentials"]
        return check

    assert previous()["detail"] == (
        "KEFU_ENCODING_AES_KEY_PREVIOUS set, but no push was opened with them: they can be removed"
    )
    PreviousUseLog(state, clock)("KEFU_ENCODING_AES_KEY_PREVIOUS")
    clock.advance(300)
    in_use = "KEFU_ENCODING_AES_KEY_PREVIOUS opened a push 5 min ago: still in use"
    assert previous()["detail"] == in_use
    clock.advance(5 * 3600)
    assert previous()["detail"] == "KEFU_ENCODING_AES_KEY_PREVIOUS unused for 5 h"


def test_without_previous_credentials_there_is_no_such_check():
    clock, token = FakeClock(), Token()
    token.failure = None
    assert "previous_credentials" not in readiness(clock, token).report()["checks"]
