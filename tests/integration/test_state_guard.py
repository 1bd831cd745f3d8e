"""A failing state store never reaches its callers, costs one probe per period, and recovers."""

from __future__ import annotations

import logging

from adapters.state.guard import GuardedStateStore
from adapters.state.locks import LockingStore
from domain.ledger import PushLedger
from tests.fakes import FakeClock, FakeStateStore


class CountingStore(FakeStateStore):
    calls: int = 0

    def get(self, key: str) -> str | None:
        self.calls += 1
        return super().get(key)


def guarded(store: FakeStateStore) -> tuple[GuardedStateStore, FakeClock]:
    clock = FakeClock(1000.0)
    return GuardedStateStore(store, probe_every=2, clock=clock), clock


def test_it_fits_the_port_and_passes_calls_through():
    store, _ = guarded(FakeStateStore())
    port: LockingStore = store
    assert port.add("k", "v", 10) is True
    assert port.add("k", "w", 10) is False
    assert port.get("k") == "v"
    port.delete("k")
    assert port.get("k") is None
    with port.lock("job", 1) as held:
        assert held is True


def test_a_failing_store_looks_empty_and_owned_and_never_raises():
    store, _ = guarded(FakeStateStore(broken=True))
    assert store.get("k") is None
    assert store.add("k", "v", 10) is True  # the caller owns the push: handled, never lost
    store.set("k", "v", 10)
    store.delete("k")
    with store.lock("job", 1) as held:
        assert held is False
    assert not store.available


def test_after_a_failure_calls_do_not_reach_the_store_until_the_next_probe():
    backend = CountingStore(broken=True)
    store, clock = guarded(backend)
    for _ in range(5):
        assert store.get("k") is None
    assert backend.calls == 1
    clock.now += 2.1
    store.get("k")
    store.get("k")
    assert backend.calls == 2


def test_the_first_probe_after_the_store_is_back_closes_the_outage(caplog):
    caplog.set_level(logging.INFO)
    backend = CountingStore(broken=True)
    store, clock = guarded(backend)
    for _ in range(3):
        store.get("k")
        clock.now += 2.1
    backend.broken = False
    backend.values["k"] = "v"
    assert store.get("k") == "v"
    assert store.available
    assert [r.getMessage().split(" (")[0] for r in caplog.records] == [
        "state store unavailable",
        "state store available again",
    ]


def test_a_lock_on_a_failing_store_trips_the_guard_too():
    backend = CountingStore(broken=True)
    store, _ = guarded(backend)
    with store.lock("job", 1) as held:
        assert held is False
    assert store.add("k", "v", 1) is True
    assert backend.calls == 0 and not store.available


def test_an_unreachable_store_never_costs_a_reply():
    ledger = PushLedger(GuardedStateStore(FakeStateStore(broken=True)))
    assert ledger.claim("msg:1") is True
    assert ledger.claim("msg:1") is True  # no record could be kept: handled again, not lost
    assert ledger.delivered("msg:1", "0") is False
    ledger.mark_delivered("msg:1", "0")
