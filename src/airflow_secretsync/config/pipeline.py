"""The pipeline's tasks and their edges, derived once from a config (SPEC §6).

Every consumer of the pipeline's shape reads :class:`PipelineGraph`: the engine (merge order,
what a target merges, which failed merge blocks it), the DAG builder (one operator per
:class:`TaskSpec`, one edge per upstream id), step-secret checks (the valid task ids) and the
CLI. Nothing else derives task ids or edges.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Literal

from airflow_secretsync.config.graph import Contribution, Plan, TargetGraph, build_plan

if TYPE_CHECKING:
    from airflow_secretsync.config.model import PipelineConfig

Phase = Literal["merge", "plan", "approve", "sync", "report"]
PHASES: tuple[Phase, ...] = ("merge", "plan", "approve", "sync", "report")
REPORT_TASK_ID = "report"


def task_id(phase: Phase, target: str | None = None) -> str:
    """The id of a generated task, relative to its DAG or task group (``merge.<T>``,
    ``plan.<T>``, ``approve.<T>``, ``sync.<T>``, ``report``)."""
    return REPORT_TASK_ID if phase == "report" else f"{phase}.{target}"


#: The one task of a pipeline's rollback DAG (see :func:`rollback_dag_id`).
ROLLBACK_TASK_ID = "rollback"


def rollback_dag_id(dag_id: str) -> str:
    """The id of the rollback DAG generated for the pipeline DAG ``dag_id``."""
    return f"{dag_id}_rollback"


@dataclass(frozen=True)
class TaskSpec:
    """One generated task: its id, phase, target (None for ``report``) and upstream ids."""

    task_id: str
    phase: Phase
    target: str | None
    upstream: tuple[str, ...]


@dataclass(frozen=True)
class PipelineGraph:
    """The tasks of one pipeline, in run order (merge levels, then syncs, then report).

    A target whose config says ``approval: required`` syncs in three tasks: ``plan.<T>`` (the
    diff, as a plan) -> ``approve.<T>`` (a person approves it) -> ``sync.<T>`` (applies exactly
    that plan); any other target in one, ``sync.<T>``.

    ``plan`` is the run plan of the selection it was built for (every target by default);
    ``tasks`` always describe the whole pipeline, whatever the selection, since the DAG holds
    every task and a run skips the unselected ones.
    """

    plan: Plan
    tasks: tuple[TaskSpec, ...]
    targets: TargetGraph

    @classmethod
    def from_config(
        cls, config: PipelineConfig, selection: Iterable[str] | None = None
    ) -> PipelineGraph:
        targets = TargetGraph.from_config(config)
        full = build_plan(config, graph=targets)
        merge_ids: dict[str, str] = {}
        specs: list[TaskSpec] = []
        if config.pipeline.merge.enabled:
            for name in full.selected:
                upstream = tuple(merge_ids[dep] for dep in targets.dependencies(name))
                merge_ids[name] = task_id("merge", name)
                specs.append(TaskSpec(merge_ids[name], "merge", name, upstream))
        if config.pipeline.sync.enabled:
            for name in full.sync_targets:
                upstream = (merge_ids[name],) if name in merge_ids else ()
                phases: tuple[Phase, ...] = ("sync",)
                if config.needs_approval(name):
                    phases = ("plan", "approve", "sync")
                for phase in phases:
                    specs.append(TaskSpec(task_id(phase, name), phase, name, upstream))
                    upstream = (task_id(phase, name),)
        report = TaskSpec(task_id("report"), "report", None, tuple(s.task_id for s in specs))
        plan = full if selection is None else build_plan(config, selection, targets)
        return cls(plan=plan, tasks=(*specs, report), targets=targets)

    @cached_property
    def _by_id(self) -> Mapping[str, TaskSpec]:
        return {spec.task_id: spec for spec in self.tasks}

    @property
    def task_ids(self) -> tuple[str, ...]:
        """Every task id, in run order."""
        return tuple(self._by_id)

    def __getitem__(self, task_id_: str) -> TaskSpec:
        return self._by_id[task_id_]

    def __contains__(self, task_id_: object) -> bool:
        return task_id_ in self._by_id

    def phase(self, phase: Phase) -> tuple[TaskSpec, ...]:
        """The tasks of one phase, in run order."""
        return tuple(spec for spec in self.tasks if spec.phase == phase)

    def needs_approval(self, target: str) -> bool:
        """Whether ``target`` syncs through ``plan.<T>`` -> ``approve.<T>`` -> ``sync.<T>``."""
        return task_id("approve", target) in self

    def contributions(self, target: str) -> tuple[Contribution, ...]:
        """What ``desired(target)`` merges, in order: parents, then imports (later wins)."""
        return self.targets.contributions(target)

    def dependencies(self, target: str) -> tuple[str, ...]:
        """The targets merged before ``target`` (its parents and imported targets)."""
        return self.targets.dependencies(target)
