"""An unreachable state store costs one failure per retry period, not one per call."""

from __future__ import annotations

import logging

import pytest

from adapters.state.guard import GuardedStateStore, StateStoreDown
from domain.errors import KefuError
from domain.ports import StateStore
from tests.fakes import FakeClock, FakeStateStore


class CountingStore(FakeStateStore):
    calls: int = 0

    def get(self, key: str) -> str | None:
        self.calls += 1
        return super().get(key)


def guarded(store: FakeStateStore) -> tuple[GuardedStateStore, FakeClock]:
    clock = FakeClock(1000.0)
    return GuardedStateStore(store, retry_after=30, clock=clock), clock


def test_it_fits_the_port_and_passes_calls_through():
    store, _ = guarded(FakeStateStore())
    port: StateStore = store
    assert port.add("k", "v", 10) is True
    assert port.add("k", "w", 10) is False
    assert port.get("k") == "v"
    port.delete("k")
    assert port.get("k") is None
    with port.lock("job", 1) as held:
        assert held is True


def test_after_a_failure_calls_fail_at_once_without_reaching_the_store():
    backend = CountingStore(broken=True)
    store, _ = guarded(backend)
    with pytest.raises(KefuError):
        store.get("k")
    for _ in range(5):
        with pytest.raises(StateStoreDown):
            store.get("k")
    assert backend.calls == 1


def test_the_store_is_asked_again_after_the_retry_period(caplog):
    caplog.set_level(logging.INFO)
    backend = CountingStore(broken=True)
    store, clock = guarded(backend)
    with pytest.raises(KefuError):
        store.get("k")
    backend.broken = False
    clock.now += 31
    assert store.get("k") is None
    assert backend.calls == 2
    assert [r.getMessage().split(" (")[0] for r in caplog.records] == [
        "state store unavailable",
        "state store available again",
    ]


def test_a_lock_on_a_failing_store_trips_the_guard_too():
    store, _ = guarded(FakeStateStore(broken=True))
    with pytest.raises(KefuError), store.lock("job", 1):
        pass
    with pytest.raises(StateStoreDown):
        store.add("k", "v", 1)
