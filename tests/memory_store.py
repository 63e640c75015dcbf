"""An in-memory store behind the role interfaces, for fast unit tests of the engine.

It plays every role (source, destination, merge store), keeps a version per secret and the
owner recorded with it, refuses stale writes and deletes (check-and-set) like Vault, and counts
its requests. It adds to, never replaces, the tests against the real OpenBao and moto servers.
"""

from __future__ import annotations

import copy
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any

from airflow_secretsync.compare import values_equal
from airflow_secretsync.config.model import PipelineConfig
from airflow_secretsync.errors import ConflictError, StoreError
from airflow_secretsync.stores.base import (
    DestinationStore,
    MergeStore,
    SecretValue,
    SecretWrite,
    StoredSecret,
)


@dataclass
class _Entry:
    value: SecretValue
    owner: str | None
    version: int


class MemoryStore(DestinationStore, MergeStore):
    """Secrets in a dict. ``fail_reads`` / ``fail_writes`` make requests raise a
    :class:`StoreError`; ``before_write`` runs before each write (e.g. to simulate another
    writer that changes a secret between the listing and the write)."""

    def __init__(self, description: str) -> None:
        self.description = description
        self.secrets: dict[str, _Entry] = {}
        self.state: tuple[dict[str, Any] | None, int | None] = (None, None)
        self.requests: Counter[str] = Counter()
        self.fail_reads = False
        self.fail_writes = False
        self.before_write: Any = None
        self._lock = threading.Lock()

    # -- setting up a test ----------------------------------------------------------------------

    def put(self, path: str, value: SecretValue, owner: str | None = None) -> None:
        """Write ``path`` as someone else would (a new version, the given owner)."""
        with self._lock:
            old = self.secrets.get(path)
            self.secrets[path] = _Entry(copy.deepcopy(value), owner, old.version + 1 if old else 1)

    def values(self) -> dict[str, SecretValue]:
        return {path: entry.value for path, entry in self.secrets.items()}

    def owners(self) -> dict[str, str | None]:
        return {path: entry.owner for path, entry in self.secrets.items()}

    @property
    def writes(self) -> int:
        return self.requests["write"] + self.requests["delete"]

    # -- the role interfaces -----------------------------------------------------------------

    def list_secrets(self) -> dict[str, StoredSecret]:
        self.requests["list"] += 1
        if self.fail_reads:
            raise StoreError(f"{self.description}: unreachable")
        with self._lock:
            return {
                path: StoredSecret(path, copy.deepcopy(e.value), e.owner, e.version)
                for path, e in self.secrets.items()
            }

    def write(self, change: SecretWrite, *, owner: str | None = None) -> str | None:
        if self.before_write is not None:
            self.before_write(change)
        self.requests["write"] += 1
        if self.fail_writes:
            raise StoreError(f"{self.description} '{change.path}': write refused")
        with self._lock:
            entry = self.secrets.get(change.path)
            seen = None if change.current is None else change.current.version
            if (entry.version if entry else None) != seen:
                raise ConflictError(f"{self.description} '{change.path}': changed since read")
            version = entry.version + 1 if entry else 1
            self.secrets[change.path] = _Entry(copy.deepcopy(change.value), owner, version)
            return str(version)

    def delete(self, secret: StoredSecret) -> None:
        self.requests["delete"] += 1
        with self._lock:
            entry = self.secrets.get(secret.path)
            if entry is None or entry.version != secret.version or entry.owner != secret.owner:
                raise ConflictError(f"{self.description} '{secret.path}': changed since read")
            del self.secrets[secret.path]

    def read_state(self) -> tuple[dict[str, Any] | None, Any]:
        return copy.deepcopy(self.state[0]), self.state[1]

    def write_state(self, state: dict[str, Any], version: Any) -> None:
        with self._lock:
            if self.state[1] != version:
                raise ConflictError(f"{self.description}: state record changed")
            self.state = (copy.deepcopy(state), (version or 0) + 1)


class MemoryStores:
    """The stores of one pipeline, all in memory (an engine ``StoreProvider``): one store per
    source, per destination and per target's merge store location, created on first use."""

    def __init__(self, config: PipelineConfig) -> None:
        self.config = config
        self.sources: dict[str, MemoryStore] = {}
        self.destinations: dict[str, MemoryStore] = {}
        self.merged: dict[str, MemoryStore] = {}

    def source(self, name: str) -> MemoryStore:
        return self.sources.setdefault(name, MemoryStore(f"memory://sources/{name}"))

    def destination(self, target: str) -> MemoryStore | None:
        if self.config.targets[target].destination is None:
            return None
        return self.destinations.setdefault(target, MemoryStore(f"memory://dest/{target}"))

    def merge_store(self, target: str) -> MemoryStore:
        return self.merged.setdefault(target, MemoryStore(f"memory://merged/{target}"))


def same(a: dict[str, SecretValue], b: dict[str, SecretValue]) -> bool:
    """Two secret sets hold the same values (as the diff compares them)."""
    return a.keys() == b.keys() and all(values_equal(a[k], b[k]) for k in a)
