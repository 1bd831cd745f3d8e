"""The container as every process uses it: keys scoped by AppID, resources started and stopped."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

import responses

from adapters.state.disk import DiskStateStore
from entrypoints.service.container import Container
from entrypoints.service.settings import Settings
from tests.e2e.conftest import APPID, mock_wechat, start_with_rules

WATCHER = "kefu-rules-watch"


def watchers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == WATCHER and t.is_alive()]


def test_every_state_key_is_scoped_by_the_appid(settings: Settings) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        mock_wechat(rsps)
        container = Container(settings=settings)
        start_with_rules(container)
        try:
            assert container.ledger().claim("msg:1:o_user:1") is True
        finally:
            container.shutdown_resources()
    peer = DiskStateStore(settings.state_dir)
    assert peer.get(f"{APPID}:claim:msg:1:o_user:1") == "1"
    assert peer.get("claim:msg:1:o_user:1") is None
    peer.close()


def test_two_mini_programs_sharing_a_store_do_not_see_each_others_claims(
    settings: Settings,
) -> None:
    other = replace(settings, appid="wx00000000000000ff")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        mock_wechat(rsps)
        first, second = Container(settings=settings), Container(settings=other)
        assert first.ledger().claim("msg:1:o_user:1") is True
        assert second.ledger().claim("msg:1:o_user:1") is True
        assert first.ledger().claim("msg:1:o_user:1") is False
        first.shutdown_resources()
        second.shutdown_resources()


def test_the_saved_rules_copy_lives_under_the_appid(settings: Settings) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        mock_wechat(rsps)
        container = Container(settings=settings)
        start_with_rules(container)
        container.shutdown_resources()
    saved = Path(settings.state_dir) / "rules" / APPID / "rules.json"
    assert saved.is_file()


def test_shutting_down_stops_the_rules_watcher_and_closes_the_store(settings: Settings) -> None:
    before = set(watchers())
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        mock_wechat(rsps)
        container = Container(settings=replace(settings, rules_ttl=0.05))
        start_with_rules(container)
        (watcher,) = set(watchers()) - before
        store = container.state_backend()
        container.shutdown_resources()
        watcher.join(timeout=5)
    assert not watcher.is_alive()
    assert isinstance(store, DiskStateStore)
    assert not store._cache.is_open  # closed: the next call would have to open it again
