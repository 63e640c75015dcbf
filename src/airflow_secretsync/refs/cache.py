"""A thread-safe TTL cache in front of a :class:`SecretsResolver`: :class:`SecretsCache`."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from airflow_secretsync.refs.reference import SecretReference, parse_reference
from airflow_secretsync.refs.resolver import SecretResult, SecretsResolver

DEFAULT_TTL_SECONDS = 300.0
DEFAULT_MISS_TTL_SECONDS = 60.0


class SecretsCache:
    """Remember resolved references for ``ttl_seconds``, misses for ``miss_ttl_seconds``.

    Concurrent look-ups of one reference cost one provider call: the others wait for it.
    Errors are not cached. A TTL of 0 disables caching of that kind of result. ``clock``
    (seconds, monotonic) is injectable for tests.
    """

    def __init__(
        self,
        resolver: SecretsResolver,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        miss_ttl_seconds: float = DEFAULT_MISS_TTL_SECONDS,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl_seconds < 0 or miss_ttl_seconds < 0:
            raise ValueError("cache TTLs must be >= 0 seconds")
        self.resolver = resolver
        self.ttl_seconds = ttl_seconds
        self.miss_ttl_seconds = miss_ttl_seconds
        self._clock = clock
        self._entries: dict[SecretReference, tuple[float, SecretResult]] = {}
        self._key_locks: dict[SecretReference, threading.Lock] = {}
        self._lock = threading.Lock()
        self._generation = 0

    def _fresh(self, ref: SecretReference) -> SecretResult | None:
        """The cached result if still fresh (an expired one is dropped); hold ``_lock``."""
        entry = self._entries.get(ref)
        if entry is None:
            return None
        if self._clock() < entry[0]:
            return entry[1]
        del self._entries[ref]
        return None

    def resolve(self, ref: SecretReference | str) -> SecretResult:
        """The cached result for ``ref``, or a new look-up through the resolver."""
        if isinstance(ref, str):
            ref = parse_reference(ref)
        with self._lock:
            if (hit := self._fresh(ref)) is not None:
                return hit
            key_lock = self._key_locks.setdefault(ref, threading.Lock())
        with key_lock:
            with self._lock:
                if (hit := self._fresh(ref)) is not None:
                    return hit
                generation = self._generation
            result = self.resolver.resolve(ref)
            ttl = self.ttl_seconds if result.found else self.miss_ttl_seconds
            with self._lock:
                if ttl > 0 and generation == self._generation:
                    self._entries[ref] = (self._clock() + ttl, result)
            return result

    def clear(self) -> None:
        """Forget everything (look-ups in flight are not stored either)."""
        with self._lock:
            self._entries.clear()
            self._generation += 1
