"""Sections 2 and 3: syncs over a slow network, and into Secrets Manager's quotas.

Both put a proxy process (:mod:`benchmarks.proxy_process`) in front of OpenBao and one in front
of moto, and point Airflow's default connections at them for the duration.

- Latency: every request waits ``L`` ms (0, 5, 20, 50) before it is answered, as a round trip
  to a remote Vault or to AWS does. A first sync and a steady-state sync of the same 1 KB
  secrets by the engine and by the naive per-secret loop (:mod:`benchmarks.baseline`).
- Quotas: the proxy in front of moto enforces the per-second quotas (:mod:`benchmarks.quota`)
  and answers ``ThrottlingException`` beyond them; a first sync then a steady-state sync.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from airflow_secretsync.config.model import PipelineSettings
from airflow_secretsync.stores.aws import store as aws_store
from benchmarks.proxy_process import ProxyProcess, proxy_process
from benchmarks.quota import GROUPS, QUOTAS
from benchmarks.seeding import FreshRegions
from benchmarks.sync import AWS_BATCH, AWS_LIST_PAGE, SyncBench, sync_once
from benchmarks.timing import Runs
from devtools.servers import LocalServers

GOAL_LATENCY_MS = 20
GOAL_STEADY_RATIO = 25.0
GOAL_FIRST_RATIO = 10.0
GOAL_BOUND_FACTOR = 1.5  # steady state within this factor of the latency bound
GOAL_QUOTA_SHARE = 0.8  # first sync at >= 80% of the quota-bound rate
QUOTA_LATENCY_MS = 20


@contextmanager
def patched_environ(values: Mapping[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def behind_proxies(
    servers: LocalServers, delay_ms: float, aws_quotas: bool = False
) -> Iterator[ProxyProcess]:
    """Airflow's connections point at proxies in front of ``servers``; yields moto's proxy."""
    with (
        proxy_process(servers.vault.url, delay_ms) as vault,
        proxy_process(servers.aws.url, delay_ms, aws_quotas) as aws,
    ):
        proxied = LocalServers(
            vault=replace(servers.vault, url=vault.url, port=vault.port),
            aws=replace(servers.aws, url=aws.url, port=aws.port),
        )
        with patched_environ(proxied.airflow_env()):
            yield aws


def read_concurrency() -> tuple[int, int]:
    """The stores' read concurrency (defaults): Vault reads and AWS batch reads in flight."""
    return PipelineSettings().read_concurrency, aws_store.DEFAULT_WORKERS


def steady_bound_s(calls: Mapping[str, int], latency_ms: float) -> float:
    """The latency bound of a steady-state sync: Vault calls x latency / Vault concurrency +
    AWS reads (ListSecrets pages, BatchGetSecretValue calls) x latency / AWS concurrency."""
    vault_workers, aws_workers = read_concurrency()
    vault = sum(n for name, n in calls.items() if name.startswith("Vault "))
    aws = calls.get("ListSecrets", 0) + calls.get("BatchGetSecretValue", 0)
    return latency_ms / 1000 * (vault / vault_workers + aws / aws_workers)


def steady_minimum_aws_reads(size: int) -> int:
    return math.ceil(size / AWS_LIST_PAGE) + math.ceil(size / AWS_BATCH)


@dataclass
class LatencyRow:
    latency_ms: float
    size: int
    first: Runs
    steady: Runs
    baseline_first: Runs
    baseline_steady: Runs

    @property
    def first_ratio(self) -> float:
        return self.baseline_first.wall / self.first.wall

    @property
    def steady_ratio(self) -> float:
        return self.baseline_steady.wall / self.steady.wall

    @property
    def steady_bound_s(self) -> float:
        return steady_bound_s(self.steady.calls, self.latency_ms)


def measure_latency(
    servers: LocalServers,
    size: int,
    latencies_ms: Sequence[float],
    workdir: Path,
    regions: FreshRegions,
) -> list[LatencyRow]:
    """One seeded source of ``size`` secrets; at each latency, one run of each scenario."""
    bench = SyncBench(servers, size, workdir, regions)  # seeded without the proxies
    rows = []
    for latency in latencies_ms:
        runs = {name: Runs() for name in ("first", "steady", "baseline_first", "baseline_steady")}
        with behind_proxies(servers, latency):
            bench.move_to_empty_region()
            bench.baseline(runs["baseline_first"])
            bench.first_sync(runs["first"])
            bench.product(runs["steady"], "unchanged", size)
            bench.baseline(runs["baseline_steady"])
        rows.append(LatencyRow(latency, size, **runs))
    return rows


@dataclass
class QuotaResult:
    size: int
    latency_ms: float
    first: Runs
    steady: Runs
    failed_targets: int
    #: Requests the proxy let through and throttled, per operation, in each scenario.
    allowed: dict[str, dict[str, int]] = field(default_factory=dict)
    throttled: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def quota_bound_s(self) -> float:
        """The fastest the first sync's AWS calls fit in the quotas (the slowest group)."""
        per_group: dict[str, int] = {}
        for name, n in self.allowed.get("first", {}).items():
            group = GROUPS.get(name, name)
            per_group[group] = per_group.get(group, 0) + n
        return max((n / QUOTAS[g] for g, n in per_group.items() if g in QUOTAS), default=0.0)

    @property
    def share_of_quota_rate(self) -> float:
        return self.quota_bound_s / self.first.wall if self.first.wall_s else 0.0


def measure_quotas(
    servers: LocalServers, size: int, workdir: Path, regions: FreshRegions
) -> QuotaResult:
    """A first sync of ``size`` secrets into an empty region, then a steady-state sync, with
    the quotas enforced (and :data:`QUOTA_LATENCY_MS` of latency)."""
    bench = SyncBench(servers, size, workdir, regions)
    first, steady = Runs(), Runs()
    allowed: dict[str, dict[str, int]] = {}
    throttled: dict[str, dict[str, int]] = {}
    with behind_proxies(servers, QUOTA_LATENCY_MS, aws_quotas=True) as aws:
        failed = 0  # the bench starts in an empty region
        for name, runs in (("first", first), ("steady", steady)):
            before = aws.stats()
            report = runs.time(lambda: sync_once(bench.config, bench.calls))
            runs.calls = bench.calls.take()
            failed += len(report.failed)
            after = aws.stats()
            allowed[name] = _difference(after["allowed"], before["allowed"])
            throttled[name] = _difference(after["throttled"], before["throttled"])
    return QuotaResult(size, QUOTA_LATENCY_MS, first, steady, failed, allowed, throttled)


def _difference(after: Mapping[str, int], before: Mapping[str, int]) -> dict[str, int]:
    counts = {name: n - before.get(name, 0) for name, n in sorted(after.items())}
    return {name: n for name, n in counts.items() if n}
