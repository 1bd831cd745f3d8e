"""Keys scoped to one mini program, so several can share one store without collisions."""

from __future__ import annotations

from contextlib import AbstractContextManager

from adapters.state.locks import LockingStore


class ScopedStateStore:
    """Puts every key (and lock name) of `store` under ``<scope>:``, e.g. the AppID."""

    def __init__(self, store: LockingStore, scope: str) -> None:
        self._store = store
        self._prefix = f"{scope}:"

    def add(self, key: str, value: str, ttl: float) -> bool:
        return self._store.add(self._prefix + key, value, ttl)

    def get(self, key: str) -> str | None:
        return self._store.get(self._prefix + key)

    def set(self, key: str, value: str, ttl: float) -> None:
        self._store.set(self._prefix + key, value, ttl)

    def delete(self, key: str) -> None:
        self._store.delete(self._prefix + key)

    def lock(self, name: str, timeout: float) -> AbstractContextManager[bool]:
        return self._store.lock(self._prefix + name, timeout)
