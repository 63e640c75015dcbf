"""DAG parse cost: importing a generated DAG file in a fresh process, minus an empty DAG file.

Each import runs in a new interpreter that has already imported ``airflow.sdk`` and frozen
its objects out of the garbage collector's reach (as a DAG processor has, before it forks the
process parsing a file), with the modules' bytecode compiled (as an installed package has
it), so what is timed is the DAG file: importing airflow-secretsync, reading the
YAML and creating the tasks. The empty DAG file (``DAG(...)`` and nothing else), measured in
the same rounds, is subtracted: the difference is our own work. In the first round the DAG
is also serialized as the DAG processor stores it (CPU time and JSON size). A task's load is
the same import with Airflow's parsing context set to one sync task, as the process that runs
that task does (its own work: minus the empty DAG file).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.config_parse import generate
from benchmarks.timing import Runs

GOAL_TARGETS = 1000
GOAL_SECONDS = 0.3  # own parse work, CPU
GOAL_SERIALIZED_MB = 2.0
GOAL_SERIALIZE_SECONDS = 1.0  # CPU
GOAL_TASK_LOAD_SECONDS = 0.1  # CPU, as the other parse goals (wall time waits for busy cores)
#: Airflow's parsing context (``airflow.sdk.definitions.context``), as a task process sets it.
PARSING_CONTEXT = ("_AIRFLOW_PARSING_CONTEXT_DAG_ID", "_AIRFLOW_PARSING_CONTEXT_TASK_ID")
TASK_ID = "sync.T0"

EMPTY_DAG = 'from airflow.sdk import DAG\n\ndag = DAG(dag_id="empty", schedule=None)\n'
PIPELINE_DAG = "from airflow_secretsync.airflow import build_dag\n\ndag = build_dag({config!r})\n"
CHILD = """
import gc, importlib.util, json, sys, time
import airflow.sdk
if "processor" in sys.argv[2:]:
    gc.freeze()  # as the DAG processor does before it forks the process that parses a file
cpu, wall = time.process_time(), time.perf_counter()
spec = importlib.util.spec_from_file_location("bench_dag", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
result = {"wall_s": wall, "cpu_s": cpu, "tasks": len(module.dag.tasks)}
if "serialize" in sys.argv[2:]:
    from airflow.serialization.serialized_objects import DagSerialization
    cpu = time.process_time()
    text = json.dumps(DagSerialization.to_dict(module.dag))
    result.update(serialize_cpu_s=time.process_time() - cpu, serialized_mb=len(text) / 1e6)
print(json.dumps(result))
"""


@dataclass
class DagParseRow:
    targets: int
    tasks: int
    runs: Runs
    empty: Runs
    serialize_cpu_s: float
    serialized_mb: float
    task_load: Runs

    @property
    def task_load_own_wall(self) -> float:
        return self.task_load.wall - self.empty.wall

    @property
    def task_load_own_cpu(self) -> float:
        return self.task_load.cpu - self.empty.cpu

    @property
    def own_wall(self) -> float:
        return self.runs.wall - self.empty.wall

    @property
    def own_cpu(self) -> float:
        return self.runs.cpu - self.empty.cpu


def import_dag_file(
    path: Path, env: Mapping[str, str], serialize: bool = False, processor: bool = True
) -> dict:
    """Import ``path`` in a fresh interpreter, as the DAG processor does (``processor``) or a
    task process; its wall/CPU seconds and task count (and the serialization's CPU seconds
    and size)."""
    flags = [*(["serialize"] if serialize else []), *(["processor"] if processor else [])]
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), *flags],
        capture_output=True,
        text=True,
        check=True,
        env=dict(env),
        cwd=path.parent,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def with_bytecode(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` with Python's bytecode cache on: an installed package has its modules compiled
    (pip compiles them at install time), so a parse does not compile them again; with
    ``PYTHONDONTWRITEBYTECODE`` and an editable install every import would. The first round
    writes what is missing."""
    return {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}


def write_dag_files(workdir: Path, targets: Sequence[int]) -> dict[int, Path]:
    """The empty DAG file (key 0) and one generated pipeline DAG per target count."""
    files = {0: workdir / "dag_empty.py"}
    files[0].write_text(EMPTY_DAG)
    for count in targets:
        config = workdir / f"pipeline_{count}.yaml"
        config.write_text(generate(count))
        files[count] = workdir / f"dag_{count}.py"
        files[count].write_text(PIPELINE_DAG.format(config=str(config)))
    return files


def measure(
    targets: Sequence[int], runs: int, workdir: Path, env: Mapping[str, str]
) -> list[DagParseRow]:
    """``runs`` rounds, each importing the empty file then every generated one, then each
    generated one as the process running its task ``sync.T0``."""
    files = write_dag_files(workdir, targets)
    env = with_bytecode(env)
    timings = {count: Runs() for count in files}
    task_loads = {count: Runs() for count in targets}
    first: dict[int, dict] = {}
    for run in range(runs):
        for count, path in files.items():
            result = import_dag_file(path, env, serialize=run == 0 and count > 0)
            timings[count].wall_s.append(result["wall_s"])
            timings[count].cpu_s.append(result["cpu_s"])
            first.setdefault(count, result)
        for count in targets:
            context = dict(
                zip(PARSING_CONTEXT, (f"secretsync_pipeline_{count}", TASK_ID), strict=True)
            )
            result = import_dag_file(files[count], {**env, **context}, processor=False)
            task_loads[count].wall_s.append(result["wall_s"])
            task_loads[count].cpu_s.append(result["cpu_s"])
    return [
        DagParseRow(
            targets=count,
            tasks=first[count]["tasks"],
            runs=timings[count],
            empty=timings[0],
            serialize_cpu_s=first[count]["serialize_cpu_s"],
            serialized_mb=first[count]["serialized_mb"],
            task_load=task_loads[count],
        )
        for count in targets
    ]
