"""Sync throughput Vault -> AWS Secrets Manager, against the naive baseline in the same run.

A source of N 1 KB secrets (100 per folder) in OpenBao is synced to one AWS destination by the
engine (the CLI's and operators' code path, default settings, merge phase disabled), in three
scenarios: first sync (destination empty: everything added), steady state (nothing changed),
1% changed. The baseline (``benchmarks.baseline``) runs interleaved with it, on the same data.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from airflow_secretsync.config import PipelineConfig, load_config
from airflow_secretsync.core.engine import Engine
from airflow_secretsync.core.report import Report
from airflow_secretsync.stores.aws.store import BATCH_SIZE, LIST_PAGE_SIZE
from airflow_secretsync.stores.factory import StoreFactory
from benchmarks.api_calls import ApiCalls, CountingStores
from benchmarks.baseline import naive_sync
from benchmarks.seeding import (
    SECRETS_PER_FOLDER,
    VAULT_MOUNT,
    FreshRegions,
    change_vault_secrets,
    seed_vault_source,
)
from benchmarks.timing import Runs
from devtools.servers import LocalServers

FIRST, STEADY, CHANGED = "first sync", "steady state", "1% changed"
SCENARIOS = (FIRST, STEADY, CHANGED)
AWS_LIST_PAGE = LIST_PAGE_SIZE  # ListSecrets page size, as the product asks for it
AWS_BATCH = BATCH_SIZE  # BatchGetSecretValue ids per call
GOAL_RATIO = 5.0

SOURCE, TARGET = "bench-source", "bench"
PIPELINE = """\
version: 1
pipeline:
  merge:
    enabled: false
  sync:
    timeout_seconds: {timeout}
sources:
  {source}:
    vault:
      mount: {mount}
      path: {path}
targets:
  {target}:
    imports: [{source}]
    aws:
      region: {region}
      prefix: "{path}/"{write_rates}
"""
#: A destination's ``write_rates`` that lift the client's pacing of first-sync writes (moto
#: enforces no quota): for measurements that do not depend on how fast writes go (memory).
UNPACED = {"CreateSecret": 10_000.0, "TagResource": 10_000.0}


def deadline_seconds(size: int) -> int:
    """The target's deadline: the default 600 s plus the first sync's floor at the AWS
    ``CreateSecret`` quota (50 per second), which alone exceeds 600 s beyond 30,000 secrets."""
    return 600 + math.ceil(size / 50)


def sync_once(config: PipelineConfig, calls: ApiCalls) -> Report:
    """One pipeline run as the CLI does it (fresh clients), API calls counted."""
    with StoreFactory(config) as factory:
        return Engine(config, CountingStores(factory, calls)).run()


def minimum_calls(size: int, existing: int, writes: int) -> int:
    """Vault LISTs and reads, ListSecrets pages, BatchGetSecretValue calls and one write per
    changed secret: what any sync that diffs must spend."""
    folders = math.ceil(size / SECRETS_PER_FOLDER)
    aws_reads = max(1, math.ceil(existing / AWS_LIST_PAGE)) + math.ceil(existing / AWS_BATCH)
    return 1 + folders + size + aws_reads + writes


@dataclass
class SyncRow:
    """One scenario at one size: the engine, the baseline (if run) and the minimum calls."""

    size: int
    scenario: str
    product: Runs
    baseline: Runs | None
    minimum_calls: int

    @property
    def ratio(self) -> float | None:
        """How many times faster than the baseline (wall-clock medians)."""
        return self.baseline.wall / self.product.wall if self.baseline else None


class SyncBench:
    """A seeded Vault source of ``size`` secrets, synced to a Secrets Manager region.

    A first sync moves to a region never used before (an empty destination); later runs
    keep to it.
    """

    def __init__(
        self,
        servers: LocalServers,
        size: int,
        workdir: Path,
        regions: FreshRegions,
        write_rates: Mapping[str, float] | None = None,
    ) -> None:
        self.servers, self.size, self.workdir, self.regions = servers, size, workdir, regions
        self.calls = ApiCalls()
        self.path = f"bench/n{size}"
        start = time.perf_counter()
        self.paths = seed_vault_source(servers, self.path, size)
        self.seed_s = time.perf_counter() - start
        self._changes = 0
        self.move_to_empty_region(write_rates)

    def move_to_empty_region(self, write_rates: Mapping[str, float] | None = None) -> None:
        """Point the pipeline config (``config_path``, ``config``) at an unused region, with
        the destination's ``write_rates`` if given."""
        self.region = self.regions.take()
        rates = f"\n      write_rates: {json.dumps(write_rates)}" if write_rates else ""
        self.config_path = self.workdir / f"sync_{self.size}_{self.region}.yaml"
        self.config_path.write_text(
            PIPELINE.format(
                source=SOURCE,
                target=TARGET,
                mount=VAULT_MOUNT,
                path=self.path,
                region=self.region,
                timeout=deadline_seconds(self.size),
                write_rates=rates,
            )
        )
        self.config = load_config(self.config_path)

    def product(self, runs: Runs, expect: str, count: int) -> None:
        """Time one engine run; fail unless its report says ``count`` secrets were ``expect``."""
        report = runs.time(lambda: sync_once(self.config, self.calls))
        runs.calls = self.calls.take()
        summary = report.summary
        if report.failed or getattr(summary, expect) != count or summary.total != self.size:
            raise RuntimeError(
                f"benchmark sync of {self.size} secrets: expected {count} {expect}, "
                f"got {summary.to_dict()} ({[t.error for t in report.failed]})"
            )

    def baseline(self, runs: Runs) -> None:
        """Time one run of the naive loop (into the current region)."""
        prefix = f"{self.path}/"
        copied = runs.time(
            lambda: naive_sync(VAULT_MOUNT, self.path, prefix, self.region, self.calls)
        )
        runs.calls = self.calls.take()
        if copied != self.size:
            raise RuntimeError(f"baseline copied {copied} secrets, expected {self.size}")

    def change_one_percent(self) -> int:
        """Give 1% of the source secrets (at least one) new values; a different set each time."""
        count = max(1, self.size // 100)
        stride = self.size // count
        start = self._changes % stride
        self._changes += 1
        paths = [self.paths[start + k * stride] for k in range(count)]
        change_vault_secrets(self.servers, self.path, paths, seed=self._changes)
        return count

    def read_times(self) -> tuple[float, float]:
        """Seconds to read the Vault source alone, and the AWS destination alone (one run)."""
        with StoreFactory(self.config) as factory:
            source, destination = factory.source(SOURCE), factory.destination(TARGET)
            reads = Runs()
            reads.time(source.list_secrets)
            reads.time(destination.list_secrets)
        return reads.wall_s[0], reads.wall_s[1]

    def first_sync(self, runs: Runs) -> None:
        """Time the engine syncing into an empty region."""
        self.move_to_empty_region()
        self.product(runs, "added", self.size)


def measure(
    servers: LocalServers,
    size: int,
    runs: int,
    baseline_runs: int,
    workdir: Path,
    regions: FreshRegions,
) -> tuple[SyncBench, list[SyncRow]]:
    """The three scenarios at ``size``; the baseline runs ``baseline_runs`` times in each,
    alternating with the engine. The bench is returned in steady state."""
    bench = SyncBench(servers, size, workdir, regions)
    product = {name: Runs() for name in SCENARIOS}
    baseline = {name: Runs() for name in SCENARIOS}
    for run in range(runs):
        if run < baseline_runs:
            bench.move_to_empty_region()
            bench.baseline(baseline[FIRST])
        bench.first_sync(product[FIRST])
    for run in range(runs):
        bench.product(product[STEADY], "unchanged", size)
        if run < baseline_runs:
            bench.baseline(baseline[STEADY])
    for run in range(runs):
        bench.product(product[CHANGED], "modified", bench.change_one_percent())
        if run < baseline_runs:
            bench.change_one_percent()
            bench.baseline(baseline[CHANGED])
    changed = max(1, size // 100)
    minimum = {FIRST: (0, size), STEADY: (size, 0), CHANGED: (size, changed)}
    rows = [
        SyncRow(
            size=size,
            scenario=name,
            product=product[name],
            baseline=baseline[name] if baseline_runs else None,
            minimum_calls=minimum_calls(size, *minimum[name]),
        )
        for name in SCENARIOS
    ]
    return bench, rows


def measure_steady(
    servers: LocalServers, size: int, runs: int, workdir: Path, regions: FreshRegions
) -> tuple[SyncBench, Runs]:
    """Steady-state runs only (after one untimed first sync), for the scaling table."""
    bench = SyncBench(servers, size, workdir, regions)
    bench.first_sync(Runs())
    steady = Runs()
    for _ in range(runs):
        bench.product(steady, "unchanged", size)
    return bench, steady
