"""A thread-safe, bounded TTL cache in front of a :class:`SecretsResolver`."""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import replace

from cachetools import TLRUCache

from airflow_secretsync.refs.reference import SecretReference, parse_reference
from airflow_secretsync.refs.resolver import SecretResult, SecretsResolver, select

DEFAULT_TTL_SECONDS = 300.0
DEFAULT_MISS_TTL_SECONDS = 60.0
DEFAULT_MAX_ENTRIES = 10_000
_ABSENT = object()


class SecretsCache:
    """Remember provider answers for ``ttl_seconds``, "nothing there" for ``miss_ttl_seconds``.

    Entries are per secret (provider, key and parameters): references that differ only in
    their ``#/key`` path share one look-up. Concurrent look-ups of one secret cost one provider
    call: the others wait for it. Errors are not cached. A TTL of 0 disables caching of that
    kind of result. At most ``max_entries`` are kept (cachetools' ``TLRUCache``): expired
    entries are evicted first, then the least recently used. ``clock`` (seconds,
    monotonic) is injectable for tests.
    """

    def __init__(
        self,
        resolver: SecretsResolver,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        miss_ttl_seconds: float = DEFAULT_MISS_TTL_SECONDS,
        *,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl_seconds < 0 or miss_ttl_seconds < 0:
            raise ValueError("cache TTLs must be >= 0 seconds")
        if max_entries < 1:
            raise ValueError("the cache needs room for at least 1 entry")
        self.resolver = resolver
        self.ttl_seconds = ttl_seconds
        self.miss_ttl_seconds = miss_ttl_seconds
        self._entries: TLRUCache[SecretReference, str | None] = TLRUCache(
            max_entries, self._expiry, timer=clock
        )
        #: One lock per secret being looked up; gone once no thread holds or awaits it.
        self._key_locks: weakref.WeakValueDictionary[SecretReference, threading.RLock] = (
            weakref.WeakValueDictionary()
        )
        self._lock = threading.Lock()
        self._generation = 0

    def _expiry(self, _location: SecretReference, raw: str | None, now: float) -> float:
        return now + (self.miss_ttl_seconds if raw is None else self.ttl_seconds)

    def size(self) -> int:
        """How many fresh entries the cache holds (expired ones are evicted first)."""
        with self._lock:
            self._entries.expire()
            return len(self._entries)

    def _cached(self, location: SecretReference) -> tuple[bool, str | None]:
        """``(True, raw)`` if ``location`` is cached and fresh; hold _lock."""
        raw = self._entries.get(location, _ABSENT)
        return (False, None) if raw is _ABSENT else (True, raw)

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
            # a strong reference held until this look-up ends keeps it in _key_locks
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
                    self._entries[location] = raw
            return raw

    def clear(self) -> None:
        """Forget everything (look-ups in flight are not stored either)."""
        with self._lock:
            self._entries.clear()
            self._generation += 1
