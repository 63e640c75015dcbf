"""What ``make bench`` measures (sizes, repetitions) and what it found."""

from __future__ import annotations

from dataclasses import dataclass, field

from benchmarks import cli_validate, dag_parse, lookups, memory, network, sync
from benchmarks.environment import Environment
from benchmarks.timing import Runs


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
    cli_validate: list[cli_validate.ValidateRow] = field(default_factory=list)
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
