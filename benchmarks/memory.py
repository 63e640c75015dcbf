"""Peak memory (RSS) of a sync, measured in a child process of its own.

The child reports its peak RSS (Linux ``VmHWM``) after importing everything and building the
config, after a first sync into an empty destination, then after a steady-state sync, and the
CPU seconds of that steady-state sync (per secret, compared between sizes).

Child: ``python -m benchmarks.memory CONFIG SIZE`` (the environment names the connections).
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

GOAL_MB = 300
#: The large run (section 4): its peak, and its steady-state CPU per secret against the
#: smaller run's.
GOAL_LARGE_MB = 400
GOAL_CPU_PER_SECRET_RATIO = 1.25
PROVIDER_HOOKS = (
    "airflow.providers.amazon.aws.hooks.secrets_manager",
    "airflow.providers.hashicorp.hooks.vault",
)


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MiB.

    ``VmHWM`` is the peak of this program's memory. ``ru_maxrss`` would not do: Linux keeps in
    it the RSS of the forked copy of the parent from before ``exec``.
    """
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    raise RuntimeError("no VmHWM in /proc/self/status")


@dataclass(frozen=True)
class MemoryResult:
    size: int
    imports_mb: float
    first_sync_mb: float
    steady_sync_mb: float
    steady_cpu_s: float

    @property
    def peak_mb(self) -> float:
        return max(self.first_sync_mb, self.steady_sync_mb)

    @property
    def cpu_per_secret_s(self) -> float:
        return self.steady_cpu_s / self.size


def measure(config: Path, size: int, env: Mapping[str, str]) -> MemoryResult:
    """Run the child on ``config`` (its destination must be empty) and read its report."""
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.memory", str(config), str(size)],
        capture_output=True,
        text=True,
        env=dict(env),
        cwd=Path(__file__).resolve().parent.parent,
    )
    if out.returncode != 0:
        raise RuntimeError(f"memory benchmark child failed:\n{out.stderr[-3000:]}")
    return MemoryResult(size=size, **json.loads(out.stdout.strip().splitlines()[-1]))


def child(config_path: str, size: int) -> dict[str, float]:
    """In the child: import, sync twice, note the peak RSS after each step."""
    for module in PROVIDER_HOOKS:  # imported lazily by the stores: counted with the imports
        importlib.import_module(module)
    from airflow_secretsync.config import load_config
    from benchmarks.api_calls import ApiCalls
    from benchmarks.sync import sync_once

    config = load_config(config_path)
    calls = ApiCalls()
    peaks = {"imports_mb": peak_rss_mb()}
    for name, expect in (("first_sync_mb", "added"), ("steady_sync_mb", "unchanged")):
        cpu = time.process_time()
        summary = sync_once(config, calls).summary
        peaks["steady_cpu_s"] = time.process_time() - cpu
        if getattr(summary, expect) != size:
            raise SystemExit(f"expected {size} {expect}, got {summary.to_dict()}")
        peaks[name] = peak_rss_mb()
    return peaks


if __name__ == "__main__":
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    print(json.dumps(child(sys.argv[1], int(sys.argv[2]))))
