"""Repeated measurements: wall and CPU time of each run, API calls, medians."""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")


def median_seconds(action: Callable[[], object], runs: int) -> float:
    """Median wall-clock seconds of ``runs`` calls of ``action``."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


@dataclass
class Runs:
    """The runs of one measurement: wall and CPU seconds (this process, every thread) of each,
    and the API calls by operation of the last one (the same in every run)."""

    wall_s: list[float] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)
    calls: dict[str, int] = field(default_factory=dict)

    def time(self, action: Callable[[], T]) -> T:
        """Run ``action`` once, recording its times; returns what it returned. Garbage left by
        earlier work is collected first, so that its collection is not timed here."""
        gc.collect()
        cpu, wall = time.process_time(), time.perf_counter()
        result = action()
        self.wall_s.append(time.perf_counter() - wall)
        self.cpu_s.append(time.process_time() - cpu)
        return result

    @property
    def wall(self) -> float:
        return statistics.median(self.wall_s)

    @property
    def cpu(self) -> float:
        return statistics.median(self.cpu_s)

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())
