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
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from benchmarks import cli_validate, config_parse, dag_parse, lookups, memory, network, sync
from benchmarks.environment import Environment, load_average
from benchmarks.report import render
from benchmarks.results import FULL, QUICK, Results, Settings
from benchmarks.seeding import FreshRegions
from benchmarks.servers import bench_servers
from devtools.airflow_home import airflow_home_env
from devtools.paths import REPO
from devtools.servers import LocalServers

DEFAULT_OUTPUT = REPO / "docs" / "benchmarks.md"
QUICK_ENV = "SECRETSYNC_BENCH_QUICK"


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
    progress("secretsync validate (a fresh process per run)")
    results.cli_validate = cli_validate.measure(max(settings.parse_targets), settings.runs, env)
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
            bench.move_to_empty_region(sync.UNPACED)
            results.memory = memory.measure(bench.config_path, size, env)
    progress(f"latency: {settings.latency_size} secrets at {settings.latencies_ms} ms")
    results.latency = network.measure_latency(
        servers, settings.latency_size, settings.latencies_ms, workdir, regions
    )
    progress(f"AWS quotas: first and steady sync of {settings.quota_size} secrets")
    results.quotas = network.measure_quotas(servers, settings.quota_size, workdir, regions)
    progress(f"peak memory of syncing {settings.large_memory_size} secrets (child process)")
    large = sync.SyncBench(
        servers, settings.large_memory_size, workdir, regions, write_rates=sync.UNPACED
    )
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

    with tempfile.TemporaryDirectory(prefix="secretsync-bench-") as tmp:
        os.environ.update(airflow_home_env(Path(tmp) / "airflow-home", log_level="WARNING"))
        progress(f"{settings.name} benchmarks: starting OpenBao and moto")
        with bench_servers() as servers:
            os.environ.update(servers.airflow_env())
            results = run_all(servers, settings, Path(tmp), dict(os.environ), progress)
    args.output.write_text(render(results))
    progress(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
