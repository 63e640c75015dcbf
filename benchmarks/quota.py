"""AWS Secrets Manager's per-second quotas, enforced by a proxy in front of moto (section 3).

Token buckets per quota group, refilled continuously at the documented rate per second (burst:
one second's worth); a request finding its bucket empty is answered as AWS answers it: HTTP 400
with a ``ThrottlingException`` JSON body, and never reaches moto.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping

from devtools.proxy import Reply, Request

#: Requests per second per region, by group of operations sharing one quota.
QUOTAS: Mapping[str, float] = {
    "read": 10_000,  # DescribeSecret + GetSecretValue, combined
    "BatchGetSecretValue": 100,
    "ListSecrets": 100,
    "write": 50,  # PutSecretValue + UpdateSecret + UpdateSecretVersionStage (+ replication)
    "CreateSecret": 50,
    "DeleteSecret": 50,
    "RestoreSecret": 50,
    "TagResource": 50,
    "UntagResource": 50,
}
GROUPS: Mapping[str, str] = {
    "DescribeSecret": "read",
    "GetSecretValue": "read",
    "PutSecretValue": "write",
    "UpdateSecret": "write",
    "UpdateSecretVersionStage": "write",
    "ReplicateSecretToRegions": "write",
    "RemoveRegionsFromReplication": "write",
}
THROTTLED = Reply(
    400,
    {"Content-Type": "application/x-amz-json-1.1", "x-amzn-ErrorType": "ThrottlingException"},
    json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode(),
)


def operation(request: Request) -> str:
    """``CreateSecret`` from ``X-Amz-Target: secretsmanager.CreateSecret``."""
    return (request.headers.get("X-Amz-Target") or "").rpartition(".")[2]


class TokenBucket:
    """``rate`` tokens per second, at most ``rate`` held (a second's burst)."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.clock = clock
        self.tokens = rate
        self.updated = clock()

    def take(self) -> bool:
        now = self.clock()
        self.tokens = min(self.rate, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class QuotaEnforcer:
    """An ``intercept`` for :class:`~devtools.proxy.FaultProxy`: throttles beyond the quotas
    and counts, per operation, the requests let through and those throttled."""

    def __init__(
        self, quotas: Mapping[str, float] = QUOTAS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.buckets = {group: TokenBucket(rate, clock) for group, rate in quotas.items()}
        self.allowed: Counter[str] = Counter()
        self.throttled: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __call__(self, request: Request) -> Reply | None:
        name = operation(request)
        bucket = self.buckets.get(GROUPS.get(name, name))
        with self._lock:
            if bucket is not None and not bucket.take():
                self.throttled[name] += 1
                return THROTTLED
            self.allowed[name] += 1
        return None
