"""How long ``secretsync validate`` takes as a user runs it: a fresh process, no Airflow.

Run: ``.venv/bin/python -m benchmarks.cli_validate [--targets 1000] [--runs 5]``. Times the
``secretsync`` console script (interpreter start, imports, reading and checking the file) on
the example config and on a generated one, and counts the Airflow modules ``validate`` loads
(it should load none: the CLI core is Airflow-free).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from airflow_secretsync.config import load_config
from benchmarks.config_parse import generate
from benchmarks.timing import median_seconds
from devtools.paths import REPO

GOAL_SECONDS = 1.0
EXAMPLE = REPO / "dags" / "configs" / "example.yaml"
SCRIPT = Path(sys.executable).with_name("secretsync")
# ``validate`` in a fresh interpreter, then the number of ``airflow`` modules it imported.
COUNT_AIRFLOW = """\
import contextlib, io, sys
from airflow_secretsync.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    code = main(["validate", sys.argv[1]])
print(code, sum(1 for name in sys.modules if name.split(".")[0] == "airflow"))
"""


@dataclass(frozen=True)
class ValidateRow:
    config: str  # what was validated, e.g. "example.yaml"
    targets: int
    wall_s: float  # median wall seconds of the console script, process start to exit
    airflow_modules: int


def validate_once(path: Path, env: Mapping[str, str]) -> None:
    result = subprocess.run(
        [str(SCRIPT), "validate", str(path)], capture_output=True, text=True, env=dict(env)
    )
    if result.returncode != 0:
        raise RuntimeError(f"secretsync validate {path} exited {result.returncode}")


def airflow_modules(path: Path, env: Mapping[str, str]) -> int:
    """How many ``airflow`` modules a process that ran ``validate`` on ``path`` has imported."""
    result = subprocess.run(
        [sys.executable, "-c", COUNT_AIRFLOW, str(path)],
        capture_output=True,
        text=True,
        env=dict(env),
        check=True,
    )
    code, count = result.stdout.split()
    if code != "0":
        raise RuntimeError(f"secretsync validate {path} returned {code}")
    return int(count)


def measure_one(
    label: str, path: Path, targets: int, runs: int, env: Mapping[str, str]
) -> ValidateRow:
    validate_once(path, env)  # warm the file system cache and byte-code
    wall = median_seconds(lambda: validate_once(path, env), runs)
    return ValidateRow(label, targets, wall, airflow_modules(path, env))


def measure(targets: int, runs: int, env: Mapping[str, str] | None = None) -> list[ValidateRow]:
    """The example config, then a generated one of ``targets`` targets."""
    env = dict(os.environ if env is None else env)
    with tempfile.TemporaryDirectory(prefix="secretsync-bench-validate-") as tmp:
        generated = Path(tmp) / f"generated-{targets}.yaml"
        generated.write_text(generate(targets))
        return [
            measure_one(EXAMPLE.name, EXAMPLE, _target_count(EXAMPLE), runs, env),
            measure_one(f"generated, {targets:,} targets", generated, targets, runs, env),
        ]


def _target_count(path: Path) -> int:
    return len(load_config(path).targets)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    for row in measure(args.targets, args.runs):
        verdict = "ok" if row.wall_s < GOAL_SECONDS and not row.airflow_modules else "MISSED"
        print(
            f"{row.config:>28}: {row.wall_s * 1000:7.0f} ms, "
            f"{row.airflow_modules} Airflow modules ({verdict})"
        )


if __name__ == "__main__":
    main()
