"""Build an Airflow DAG, or a task group inside one, from a pipeline YAML file (SPEC §6).

Parsing does no network and no secret look-up: only the YAML file is read. Step secrets (SPEC §7)
are attached to the generated tasks as references.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from airflow.exceptions import AirflowOptionalProviderFeatureException
from airflow.sdk import DAG, BaseOperator, TaskGroup, get_parsing_context
from airflow.sdk.definitions.param import ParamsDict

from airflow_secretsync.airflow.dag_docs import dag_description, dag_doc_md
from airflow_secretsync.airflow.operators import (
    MergeSecretsOperator,
    SecretSyncReportOperator,
    SyncSecretsOperator,
)
from airflow_secretsync.airflow.params import build_params
from airflow_secretsync.airflow.step_secrets import apply_step_secrets
from airflow_secretsync.config import PipelineConfig, load_config
from airflow_secretsync.config.pipeline import PipelineGraph, TaskSpec
from airflow_secretsync.errors import SecretSyncError
from airflow_secretsync.step_secrets import StepSecrets

TASK_TRIGGER_RULE = "none_failed"  # skipped (unselected) upstream tasks do not block a target


def caller_file() -> str | None:
    """The file that called into this package (the DAG file), as Airflow's ``@dag`` records it."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__", "").startswith(__package__):
        frame = frame.f_back
    return frame.f_code.co_filename if frame is not None else None


def _default_args(config: PipelineConfig) -> dict[str, Any]:
    return {
        "retries": config.dag.retries,
        "retry_delay": timedelta(seconds=config.dag.retry_delay_seconds),
    }


_GROUP_TOOLTIPS = {
    "merge": "deep-merge sources into the merge store",
    "plan": "diff targets that need approval into plans",
    "approve": "approval requests (human in the loop)",
    "sync": "diff destinations and apply",
}


def _make_task(spec: TaskSpec, config: PipelineConfig, common: dict[str, Any]) -> BaseOperator:
    """The operator of one merge, plan, approve or sync task (its group gives the prefix)."""
    target = str(spec.target)
    kwargs: dict[str, Any] = {"task_id": target, "trigger_rule": TASK_TRIGGER_RULE}
    if spec.phase == "merge":
        return MergeSecretsOperator(target=target, **kwargs, **common)
    if spec.phase == "sync" and not config.needs_approval(target):
        return SyncSecretsOperator(target=target, **kwargs, **common)
    # human-in-the-loop operators need Airflow 3.1+: imported only by DAGs that use them
    try:
        from airflow_secretsync.airflow import approval
    except (ImportError, AirflowOptionalProviderFeatureException):
        raise SecretSyncError(
            f"target '{target}': approval: required needs Airflow 3.1 or later with the "
            "standard provider (human-in-the-loop operators)"
        ) from None

    settings = config.approval(target)
    if spec.phase == "plan":
        minutes = settings.approval_timeout_minutes
        return approval.PlanTargetOperator(
            target=target, approval_timeout_minutes=minutes, **kwargs, **common
        )
    if spec.phase == "approve":
        return approval.ApproveTargetOperator(
            target=target,
            approvers=list(settings.approvers),
            approval_timeout_minutes=settings.approval_timeout_minutes,
            **kwargs,
        )
    return approval.ApplyApprovedPlanOperator(target=target, **kwargs, **common)


def _prefix_sibling_ids(task: BaseOperator, spec: TaskSpec) -> None:
    """Give the ids of a task's plan/approve siblings the enclosing task group's prefix."""
    prefix = task.task_id.removesuffix(spec.task_id)
    for name in ("plan_task_id", "approve_task_id"):
        if hasattr(task, name):
            setattr(task, name, prefix + getattr(task, name))


def add_pipeline_tasks(
    config: PipelineConfig,
    step_secrets: StepSecrets | None = None,
    only: str | None = None,
    graph: PipelineGraph | None = None,
) -> SecretSyncReportOperator | None:
    """Create the pipeline's tasks in the current DAG context: one operator per task of the
    :class:`PipelineGraph` (``merge``, ``plan``, ``approve`` and ``sync`` task groups, then
    ``report``), one edge per upstream id, with ``step_secrets`` (default: the config's)
    attached by task id relative to the pipeline (``merge.<T>``, ``sync.<T>``, ``report``...).
    Returns the report task.

    ``only`` (a task id of the pipeline) creates that task alone, without edges: enough for
    the process that runs it, which needs neither its neighbours nor the edges (the scheduler
    works from the DAG the DAG processor serialized). Returns None then unless it is ``report``.
    ``graph``: the config's :class:`PipelineGraph`, when the caller has built it.
    """
    path = str(config.source_file)
    graph = graph or PipelineGraph.from_config(config)
    wanted = (lambda spec: spec.task_id == only) if only in graph else (lambda spec: True)
    common = {"config_path": path, "dry_run_default": config.pipeline.dry_run}
    tasks: dict[str, BaseOperator] = {}
    for phase, tooltip in _GROUP_TOOLTIPS.items():
        specs = [spec for spec in graph.phase(phase) if wanted(spec)]
        if not specs:
            continue
        with TaskGroup(phase, tooltip=tooltip):
            for spec in specs:
                tasks[spec.task_id] = _make_task(spec, config, common)
                _prefix_sibling_ids(tasks[spec.task_id], spec)
    (report_spec,) = graph.phase("report")
    report = None
    if wanted(report_spec):
        report = SecretSyncReportOperator(
            task_id=report_spec.task_id, sync_task_ids=[], retries=0, **common
        )
        prefix = report.task_id.removesuffix(report_spec.task_id)  # the enclosing group's
        report.sync_task_ids = [prefix + spec.task_id for spec in graph.phase("sync")]
        tasks[report_spec.task_id] = report
    for task_id, task in tasks.items():
        _drop_dag_params(task)
        for upstream in graph[task_id].upstream:
            if upstream in tasks:
                _link(tasks[upstream], task)
    secrets = step_secrets or StepSecrets.from_config(config, graph)
    apply_step_secrets(secrets, tasks, graph.task_ids)
    return report


def _link(upstream: BaseOperator, downstream: BaseOperator) -> None:
    """``upstream >> downstream``. Within one DAG the edge is recorded directly: ``>>`` first
    checks that both tasks share a DAG by hashing it, and a DAG's hash covers every task id,
    so a 1,000-target pipeline's edges would cost O(edges x tasks)."""
    if upstream.has_dag() and downstream.has_dag() and upstream.dag is downstream.dag:
        upstream.downstream_task_ids.add(downstream.node_id)
        downstream.upstream_task_ids.add(upstream.node_id)
    else:
        upstream >> downstream


def _drop_dag_params(task: BaseOperator) -> None:
    """Remove the copies of the DAG's params Airflow put into ``task``.

    A task resolves its params as the DAG's, then its own, at run time, so the copies change
    nothing but are serialized with every task: with the ``targets`` enum of every target
    that is O(tasks x targets) bytes. Params a task sets itself are kept.
    """
    task.params = ParamsDict(
        {
            k: task.params.get_param(k)
            for k in task.params
            if task.params.get_param(k).source != "dag"
        }
    )


def _running_task(dag_id: str) -> str | None:
    """The task id when this file is parsed to run one task of ``dag_id`` (Airflow's parsing
    context), else None: a 1,000-target DAG then builds one operator instead of 1,335."""
    context = get_parsing_context()
    return context.task_id if context.dag_id == dag_id else None


class SecretSyncDagBuilder(StepSecrets):
    """Builds the DAG of one config file; its step secrets can be edited before :meth:`build`.

    It starts with the config's step secrets (see :meth:`StepSecrets.from_config`); secrets
    added with :meth:`add_step_secret` beat them.
    """

    def __init__(self, config_path: str | Path, **dag_kwargs: Any) -> None:
        self.config_path = Path(config_path)
        self.config = load_config(config_path)
        self.dag_kwargs = dag_kwargs
        self.graph = PipelineGraph.from_config(self.config)
        super().__init__(StepSecrets.from_config(self.config, self.graph))

    def build(self) -> DAG:
        """One DAG: ``dag:`` settings apply, ``dag_kwargs`` override them."""
        config = self.config
        only = _running_task(self.dag_kwargs.get("dag_id", config.dag_id))
        # the process that runs one task needs neither the docs panel nor the description
        docs = (
            {} if only else {"description": dag_description(config), "doc_md": dag_doc_md(config)}
        )
        settings: dict[str, Any] = {
            "dag_id": config.dag_id,
            "schedule": config.dag.schedule,
            "tags": list(config.dag.tags),
            "max_active_runs": config.dag.max_active_runs,
            "catchup": False,
            "params": build_params(config),
            "default_args": _default_args(config),
            **docs,
            **self.dag_kwargs,
        }
        params = settings.pop("params")
        with DAG(**settings) as dag:
            add_pipeline_tasks(config, self, only=only, graph=self.graph)
        dag.params = params  # after the tasks: saves Airflow deep-copying them into each task
        dag.fileloc = caller_file() or dag.fileloc
        return dag


def build_dag(config_path: str | Path, **dag_kwargs: Any) -> DAG:
    """One DAG for one config file; ``dag:`` settings apply, ``dag_kwargs`` override them."""
    return SecretSyncDagBuilder(config_path, **dag_kwargs).build()


class SecretSyncTaskGroup(TaskGroup):
    """The pipeline as a task group for embedding in an existing DAG.

    The enclosing DAG's params ``dry_run``, ``targets``, ``mode`` and ``fail_on_changes`` are
    honoured when it defines them (see :func:`build_params`); config defaults apply otherwise.
    ``step_secrets`` (default: the config's) are keyed by task id within the group.
    """

    def __init__(
        self,
        config_path: str | Path,
        group_id: str = "secretsync",
        *,
        step_secrets: StepSecrets | None = None,
        **kwargs: Any,
    ):
        config = load_config(config_path)
        kwargs.setdefault("default_args", _default_args(config))
        super().__init__(group_id=group_id, **kwargs)
        with self:
            add_pipeline_tasks(config, step_secrets)
