"""Client-side pacing of Secrets Manager calls, below the account's per-second quotas.

AWS throttles each quota group per account and region (``ThrottlingException``). A client that
ignores that pays for it twice: the throttled call, then the retry mode's backoff. So every
write call and every batch read (``ListSecrets``, ``BatchGetSecretValue``: 100 per second
each) of a client first takes a token from its group's bucket, shared by all the readers and
writers of a run that use the client (one client per connection, region and role); adaptive
retries stay on as the backstop for other clients of the account.

The token bucket is written here rather than taken from a library: the venv holds no
rate-limiting library, and what is needed (a blocking, thread-safe ``acquire`` with an
injectable clock) is a few lines.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from airflow_secretsync.stores.aws import READ_QUOTAS, WRITE_QUOTAS

if TYPE_CHECKING:
    from botocore.client import BaseClient

#: Operations counted against another operation's quota group.
GROUP_OF: Mapping[str, str] = {
    "UpdateSecret": "PutSecretValue",
    "UpdateSecretVersionStage": "PutSecretValue",
    "ReplicateSecretToRegions": "PutSecretValue",
    "RemoveRegionsFromReplication": "PutSecretValue",
    "StopReplicationToReplica": "PutSecretValue",
}
#: A bucket holds at most this fraction of a second's tokens: a short burst, leaving most of
#: AWS's own burst allowance to the account's other clients and to jitter on the way.
BURST_SECONDS = 0.2


class TokenBucket:
    """``rate`` tokens per second, at most ``max(1, rate * burst_seconds)`` held.

    :meth:`acquire` reserves a token under the lock (the balance may go negative: later
    callers queue behind earlier ones) and sleeps outside it until the token is due.
    """

    def __init__(
        self,
        rate: float,
        burst_seconds: float = BURST_SECONDS,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.capacity = max(1.0, rate * burst_seconds)
        self.clock = clock or time.monotonic
        self.sleep = sleep or time.sleep
        self.tokens = self.capacity
        self.updated = self.clock()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take one token, waiting until it is due; returns the seconds waited."""
        with self._lock:
            now = self.clock()
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            self.tokens -= 1
            wait = -self.tokens / self.rate if self.tokens < 0 else 0.0
        if wait:
            self.sleep(wait)
        return wait


class QuotaPacer:
    """One bucket per quota group; :meth:`attach` paces a boto3 client's calls."""

    def __init__(
        self,
        rates: Mapping[str, float] | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.buckets = {
            group: TokenBucket(rate, clock=clock, sleep=sleep)
            for group, rate in (rates or {**READ_QUOTAS, **WRITE_QUOTAS}).items()
        }

    def before_call(self, operation: str) -> None:
        """Wait for ``operation``'s quota group (operations of no group pass)."""
        bucket = self.buckets.get(GROUP_OF.get(operation, operation))
        if bucket is not None:
            bucket.acquire()

    def attach(self, client: BaseClient) -> BaseClient:
        """Pace ``client``'s calls (a botocore ``before-call`` handler); returns it."""

        def handler(model: Any, **_: Any) -> None:
            self.before_call(model.name)

        client.meta.events.register("before-call.secrets-manager", handler)
        return client
