"""``make bench``: every benchmark against local OpenBao and moto; writes docs/benchmarks.md.

Run: ``.venv/bin/python -m benchmarks.run [--quick] [--output PATH]`` (``make bench``,
``make bench QUICK=1``). ``--quick`` (or ``SECRETSYNC_BENCH_QUICK=1``) uses smaller sizes, to
stay under 5 minutes on 2 cores; the full run syncs 50,000 secrets for the memory section and
runs the naive loop at 50 ms of latency, which take the better part of an hour. Progress goes
to stderr.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from benchmarks import config_parse, dag_parse, lookups, memory, network, sync
from benchmarks.environment import Environment, load_average
from benchmarks.seeding import FreshRegions
from benchmarks.timing import Runs
from devtools.servers import LocalServers

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = REPO / "docs" / "benchmarks.md"
QUICK_ENV = "SECRETSYNC_BENCH_QUICK"


@dataclass(frozen=True)
class Settings:
    """Sizes and repetitions. The references (the naive sync baseline, the uncached backend's
    look-ups) run ``runs`` times up to ``references_full_up_to`` secrets or look-ups, and
    once above: they need a minute or two per run there."""

    name: str
    parse_targets: tuple[int, ...]
    sync_sizes: tuple[int, ...]
    scaling_sizes: tuple[int, ...]
    memory_size: int
    lookups: int
    lookup_keys: int
    runs: int
    cold_runs: int
    latency_size: int
    latencies_ms: tuple[float, ...]
    quota_size: int
    large_memory_size: int
    references_full_up_to: int = 1000

    def __post_init__(self) -> None:
        if self.memory_size not in self.sync_sizes + self.scaling_sizes:
            raise ValueError("memory_size must be one of the sync or scaling sizes")

    def reference_runs(self, size: int) -> int:
        return self.runs if size <= self.references_full_up_to else 1


FULL = Settings(
    name="full",
    parse_targets=(10, 100, 1000, 3000),
    sync_sizes=(1000, 10000),
    scaling_sizes=(1000, 5000, 10000),
    memory_size=10000,
    lookups=10000,
    lookup_keys=100,
    runs=3,
    cold_runs=7,
    latency_size=1000,
    latencies_ms=(0, 5, 20, 50),
    quota_size=1000,
    large_memory_size=50000,
)
QUICK = Settings(
    name="quick",
    parse_targets=(10, 100, 1000),
    sync_sizes=(100, 1000),
    scaling_sizes=(100, 500, 1000),
    memory_size=1000,
    lookups=1000,
    lookup_keys=100,
    runs=3,
    cold_runs=5,
    latency_size=100,
    latencies_ms=(0, 20),
    quota_size=200,
    large_memory_size=2000,
    references_full_up_to=100,
)


@dataclass
class Results:
    settings: Settings
    environment: Environment
    config_parse: list[dict[str, float]] = field(default_factory=list)
    dag_parse: list[dag_parse.DagParseRow] = field(default_factory=list)
    sync: list[sync.SyncRow] = field(default_factory=list)
    seed_s: dict[int, float] = field(default_factory=dict)
    scaling: dict[int, Runs] = field(default_factory=dict)
    #: Seconds to read the Vault source alone and the AWS destination alone, by size.
    reads: dict[int, tuple[float, float]] = field(default_factory=dict)
    memory: memory.MemoryResult | None = None
    large_memory: memory.MemoryResult | None = None
    latency: list[network.LatencyRow] = field(default_factory=list)
    quotas: network.QuotaResult | None = None
    lookups: lookups.LookupResult | None = None
    duration_s: float = 0.0
    finished: str = ""  # UTC date and time


def run_all(
    servers: LocalServers,
    settings: Settings,
    workdir: Path,
    env: Mapping[str, str],
    progress: Callable[[str], None] = lambda message: None,
) -> Results:
    """Every benchmark; ``env`` is the environment of the child processes (connections set)."""
    start = time.perf_counter()
    results = Results(settings, Environment.capture())
    regions = FreshRegions()
    progress("config parse")
    results.config_parse = [
        config_parse.measure(count, settings.runs) for count in settings.parse_targets
    ]
    progress("DAG parse (a fresh interpreter per import)")
    results.dag_parse = dag_parse.measure(settings.parse_targets, settings.runs, workdir, env)
    for size in sorted(set(settings.sync_sizes + settings.scaling_sizes)):
        progress(f"sync of {size} secrets")
        if size in settings.sync_sizes:
            bench, rows = sync.measure(
                servers, size, settings.runs, settings.reference_runs(size), workdir, regions
            )
            results.sync += rows
            steady = next(row.product for row in rows if row.scenario == sync.STEADY)
        else:
            bench, steady = sync.measure_steady(servers, size, settings.runs, workdir, regions)
        results.seed_s[size] = bench.seed_s
        if size in settings.scaling_sizes:
            results.scaling[size] = steady
            results.reads[size] = bench.read_times()
        if size == settings.memory_size:
            progress(f"peak memory of syncing {size} secrets (child process)")
            bench.move_to_empty_region()
            results.memory = memory.measure(bench.config_path, size, env)
    progress(f"latency: {settings.latency_size} secrets at {settings.latencies_ms} ms")
    results.latency = network.measure_latency(
        servers, settings.latency_size, settings.latencies_ms, workdir, regions
    )
    progress(f"AWS quotas: first and steady sync of {settings.quota_size} secrets")
    results.quotas = network.measure_quotas(servers, settings.quota_size, workdir, regions)
    progress(f"peak memory of syncing {settings.large_memory_size} secrets (child process)")
    large = sync.SyncBench(servers, settings.large_memory_size, workdir, regions)
    results.large_memory = memory.measure(large.config_path, large.size, env)
    progress(f"{settings.lookups} variable look-ups")
    results.lookups = lookups.measure(
        servers,
        regions.take(),
        settings.lookups,
        settings.lookup_keys,
        settings.runs,
        settings.reference_runs(settings.lookups),
        settings.cold_runs,
    )
    results.environment = replace(results.environment, load_after=load_average())
    results.duration_s = time.perf_counter() - start
    results.finished = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return results


def isolated_airflow_env(home: Path) -> dict[str, str]:
    """A throw-away Airflow home and config cache (nothing of the developer's is read or
    written), quiet logs."""
    return {
        "AIRFLOW_HOME": str(home),
        "SECRETSYNC_CONFIG_CACHE": str(home / "config-cache"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (under 5 minutes)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    quick = args.quick or os.environ.get(QUICK_ENV, "") not in ("", "0")
    settings = QUICK if quick else FULL
    started = time.perf_counter()

    def progress(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.0f} s] {message}", file=sys.stderr, flush=True)

    from benchmarks.report import render
    from benchmarks.servers import bench_servers

    with tempfile.TemporaryDirectory(prefix="secretsync-bench-") as tmp:
        os.environ.update(isolated_airflow_env(Path(tmp) / "airflow-home"))
        progress(f"{settings.name} benchmarks: starting OpenBao and moto")
        with bench_servers() as servers:
            os.environ.update(servers.airflow_env())
            results = run_all(servers, settings, Path(tmp), dict(os.environ), progress)
    args.output.write_text(render(results))
    progress(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
