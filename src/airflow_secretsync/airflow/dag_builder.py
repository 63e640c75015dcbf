"""Build an Airflow DAG, or a task group inside one, from a pipeline YAML file (SPEC §6).

Parsing does no network and no secret look-up: only the YAML file is read.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, TaskGroup

from airflow_secretsync.airflow.operators import (
    MergeSecretsOperator,
    SecretSyncReportOperator,
    SyncSecretsOperator,
)
from airflow_secretsync.airflow.params import build_params
from airflow_secretsync.config import PipelineConfig, build_plan, load_config

TASK_TRIGGER_RULE = "none_failed"  # skipped (unselected) upstream tasks do not block a target


def _default_args(config: PipelineConfig) -> dict[str, Any]:
    return {
        "retries": config.dag.retries,
        "retry_delay": timedelta(seconds=config.dag.retry_delay_seconds),
    }


def add_pipeline_tasks(config: PipelineConfig) -> SecretSyncReportOperator:
    """Create the ``merge`` and ``sync`` task groups and ``report`` in the current DAG context.

    Returns the report task.
    """
    path = str(config.source_file)
    plan = build_plan(config)
    merge_tasks: dict[str, MergeSecretsOperator] = {}
    if config.pipeline.merge.enabled:
        with TaskGroup("merge", tooltip="deep-merge sources into the merge store"):
            for name in (n for level in plan.merge_levels for n in level):
                task = MergeSecretsOperator(
                    task_id=name, config_path=path, target=name, trigger_rule=TASK_TRIGGER_RULE
                )
                spec = config.targets[name]
                for upstream in [*spec.inherits, *spec.imports]:
                    if upstream in merge_tasks:
                        merge_tasks[upstream] >> task
                merge_tasks[name] = task
    sync_tasks: list[SyncSecretsOperator] = []
    if config.pipeline.sync.enabled:
        with TaskGroup("sync", tooltip="diff destinations and apply"):
            for name in plan.sync_targets:
                task = SyncSecretsOperator(
                    task_id=name, config_path=path, target=name, trigger_rule=TASK_TRIGGER_RULE
                )
                if name in merge_tasks:
                    merge_tasks[name] >> task
                sync_tasks.append(task)
    report = SecretSyncReportOperator(
        task_id="report", sync_task_ids=[t.task_id for t in sync_tasks], retries=0
    )
    for task in [*merge_tasks.values(), *sync_tasks]:
        task >> report
    return report


def build_dag(config_path: str | Path, **dag_kwargs: Any) -> DAG:
    """One DAG for one config file; ``dag:`` settings apply, ``dag_kwargs`` override them."""
    config = load_config(config_path)
    settings: dict[str, Any] = {
        "dag_id": config.dag_id,
        "schedule": config.dag.schedule,
        "tags": list(config.dag.tags),
        "max_active_runs": config.dag.max_active_runs,
        "catchup": False,
        "params": build_params(config),
        "default_args": _default_args(config),
        "doc_md": f"Secret sync pipeline generated from `{Path(config_path).name}`.",
        **dag_kwargs,
    }
    with DAG(**settings) as dag:
        add_pipeline_tasks(config)
    return dag


class SecretSyncTaskGroup(TaskGroup):
    """The pipeline as a task group for embedding in an existing DAG.

    The enclosing DAG's params ``dry_run``, ``targets``, ``mode`` and ``fail_on_changes`` are
    honoured when it defines them (see :func:`build_params`); config defaults apply otherwise.
    """

    def __init__(self, config_path: str | Path, group_id: str = "secretsync", **kwargs: Any):
        config = load_config(config_path)
        kwargs.setdefault("default_args", _default_args(config))
        super().__init__(group_id=group_id, **kwargs)
        with self:
            add_pipeline_tasks(config)
