"""A thread-safe TTL cache in front of a :class:`SecretsResolver`: :class:`SecretsCache`."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace

from airflow_secretsync.refs.reference import SecretReference, parse_reference
from airflow_secretsync.refs.resolver import SecretResult, SecretsResolver, select

DEFAULT_TTL_SECONDS = 300.0
DEFAULT_MISS_TTL_SECONDS = 60.0


class SecretsCache:
    """Remember provider answers for ``ttl_seconds``, "nothing there" for ``miss_ttl_seconds``.

    Entries are per secret (provider, key and parameters): references that differ only in
    their ``#/key`` path share one look-up. Concurrent look-ups of one secret cost one provider
    call: the others wait for it. Errors are not cached. A TTL of 0 disables caching of that
    kind of result. ``clock`` (seconds, monotonic) is injectable for tests.
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
        self._entries: dict[SecretReference, tuple[float, str | None]] = {}
        self._key_locks: dict[SecretReference, threading.RLock] = {}
        self._lock = threading.Lock()
        self._generation = 0

    def _cached(self, location: SecretReference) -> tuple[bool, str | None]:
        """``(True, raw)`` if ``location`` is cached and fresh (expired: dropped); hold _lock."""
        entry = self._entries.get(location)
        if entry is None:
            return False, None
        if self._clock() < entry[0]:
            return True, entry[1]
        del self._entries[location]
        return False, None

    def resolve(self, ref: SecretReference | str) -> SecretResult:
        """Like :meth:`SecretsResolver.resolve`, served from the cache while fresh."""
        if isinstance(ref, str):
            ref = parse_reference(ref)
        return SecretResult(ref, select(ref, self._fetch(replace(ref, fragment=()))))

    def _fetch(self, location: SecretReference) -> str | None:
        with self._lock:
            hit, raw = self._cached(location)
            if hit:
                return raw
            key_lock = self._key_locks.setdefault(location, threading.RLock())
        with key_lock:
            with self._lock:
                hit, raw = self._cached(location)
                if hit:
                    return raw
                generation = self._generation
            raw = self.resolver.fetch(location)
            ttl = self.miss_ttl_seconds if raw is None else self.ttl_seconds
            with self._lock:
                if ttl > 0 and generation == self._generation:
                    self._entries[location] = (self._clock() + ttl, raw)
            return raw

    def clear(self) -> None:
        """Forget everything (look-ups in flight are not stored either)."""
        with self._lock:
            self._entries.clear()
            self._generation += 1
