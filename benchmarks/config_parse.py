"""How long loading a large pipeline config takes (goal: 500 targets well under a second).

Run: ``.venv/bin/python -m benchmarks.config_parse [--targets 100 500 2000] [--runs 7]``.
Measures ``parse_config`` (YAML, schema, rules, graph checks) and ``build_plan`` separately,
on a generated config with inheritance chains, imports, filters, destinations and step secrets.
"""

from __future__ import annotations

import argparse

from airflow_secretsync.config import build_plan, parse_config
from benchmarks.timing import median_seconds

GOAL_SECONDS = 1.0
TARGETS_PER_SOURCE = 10


def generate(targets: int) -> str:
    """A valid config with ``targets`` targets: every third one syncs, each inherits the one
    a third of its index (a tree about log3(n) levels deep) and imports two sources."""
    sources = max(1, targets // TARGETS_PER_SOURCE)
    lines = ["version: 1", "merge_store: {vault: {path: merged}}", "sources:"]
    lines += [f"  src-{i}: {{vault: {{path: teams/src-{i}}}}}" for i in range(sources)]
    lines.append("targets:")
    for i in range(targets):
        lines.append(f"  T{i}:")
        if i:
            lines.append(f"    inherits: T{i // 3}")
        lines.append(f"    imports: [src-{i % sources}, src-{(i * 7) % sources}]")
        lines.append('    exclude: ["^tmp/", "\\\\.bak$"]')
        if i % 3 == 0:
            lines.append(f"    aws: {{region: us-east-1, prefix: env{i}/, tags: {{env: e{i}}}}}")
            lines.append(f'    step_secrets: {{TOKEN: "ref+vault://secret/ci/t{i}#/token"}}')
    return "\n".join(lines) + "\n"


def measure(targets: int, runs: int) -> dict[str, float]:
    """Median seconds to parse and to plan a generated config of ``targets`` targets."""
    text = generate(targets)
    config = parse_config(text, "bench.yaml")  # also warms imports and caches
    return {
        "targets": targets,
        "lines": text.count("\n"),
        "parse_s": median_seconds(lambda: parse_config(text, "bench.yaml"), runs),
        "plan_s": median_seconds(lambda: build_plan(config), runs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--targets", type=int, nargs="+", default=[100, 500, 2000])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    print(f"{'targets':>8} {'lines':>7} {'parse (ms)':>11} {'plan (ms)':>10}")
    for size in args.targets:
        row = measure(size, args.runs)
        print(
            f"{row['targets']:>8} {row['lines']:>7} {row['parse_s'] * 1000:>11.1f} "
            f"{row['plan_s'] * 1000:>10.1f}"
        )
        if size == 500:
            verdict = "ok" if row["parse_s"] + row["plan_s"] < GOAL_SECONDS else "MISSED"
            print(f"{'':>8} goal for 500 targets: parse + plan < {GOAL_SECONDS:.0f} s: {verdict}")


if __name__ == "__main__":
    main()
