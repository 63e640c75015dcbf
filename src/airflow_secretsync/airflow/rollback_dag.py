"""The rollback DAG of a pipeline (SPEC §10): undo what one run of the pipeline DAG applied.

One task reads the run's report (the ``report`` task's XCom, names and version ids only) and
hands it to :func:`~airflow_secretsync.core.rollback.rollback`; its XCom is the rollback's own
report. Dry run by default: a trigger with only ``run_id`` shows the rollback and writes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, BaseOperator, Context, DagRunState, Param
from airflow.sdk.exceptions import AirflowFailException

from airflow_secretsync.airflow.assets import destination_alias, emit_destination_event
from airflow_secretsync.airflow.dag_builder import caller_file
from airflow_secretsync.airflow.operators import PENDING_SUMMARY, open_stores
from airflow_secretsync.airflow.params import targets_param
from airflow_secretsync.config import PipelineConfig, load_config
from airflow_secretsync.config.pipeline import ROLLBACK_TASK_ID, rollback_dag_id, task_id
from airflow_secretsync.core.render import render_compact, render_human
from airflow_secretsync.core.report import Report
from airflow_secretsync.core.rollback import rollback
from airflow_secretsync.errors import SecretSyncError

#: Dag run states after which a run's report is final.
ENDED = (DagRunState.SUCCESS, DagRunState.FAILED)

DOC_MD = """\
Rolls back what one run of **{dag_id}** applied: modified secrets get their previous version
back, created ones are deleted, deleted ones restored (where the store can), each only if it
is still what that run left; anything changed since is refused.

Trigger with the **Run ID** of that run (Grid view, run details). **dry_run** is on by
default: the run shows the rollback and writes nothing; untick it to roll back. The report
(XCom and the Rendered Templates tab of the `rollback` task) lists what was restored, deleted
or refused: names and version ids, never a value.
"""

RUN_SETTINGS = (
    "{{ 'DRY RUN: checks and shows the rollback, writes nothing' if params.dry_run "
    "else 'writes: restores the previous versions' }}; "
    "run {{ params.run_id }}; targets {{ (params.targets or ['all']) | join(', ') }}"
)


def rollback_params(config: PipelineConfig, pipeline_dag_id: str) -> dict[str, Param]:
    """``run_id`` (required), ``dry_run`` (default on) and ``targets`` (multi-select)."""
    names = [name for name, spec in config.targets.items() if spec.destination is not None]
    return {
        "run_id": Param(
            type="string",
            minLength=1,
            title="Run ID",
            description=f"The Run ID of the {pipeline_dag_id} run to roll back.",
        ),
        "dry_run": Param(
            True,
            type="boolean",
            description="Show the rollback, write nothing. Untick to roll back for real.",
        ),
        "targets": targets_param(
            names, "Targets to roll back. Empty: every target the run changed."
        ),
    }


class SecretSyncRollbackOperator(BaseOperator):
    """Roll back what run ``params.run_id`` of ``pipeline_dag_id`` applied.

    Fails, writing nothing, when that run does not exist, has not ended or has no report; fails
    after pushing its report when a target failed or a secret was refused (as the CLI exits 2).
    A rollback that succeeded emits each changed destination's asset event, as a sync does
    (see :mod:`airflow_secretsync.airflow.assets`).
    ``run_settings`` and ``summary`` show in the Rendered Templates tab (names only).
    """

    template_fields: Sequence[str] = ("config_path", "run_settings", "summary")
    overwrite_rtif_after_execution = True
    ui_color = "#fce8e6"

    def __init__(self, *, config_path: str, pipeline_dag_id: str, **kwargs: Any) -> None:
        kwargs.setdefault("retries", 0)  # a second try would refuse what the first restored
        super().__init__(**kwargs)
        self.config_path = str(config_path)
        self.pipeline_dag_id = pipeline_dag_id
        self.run_settings = RUN_SETTINGS
        self.summary = PENDING_SUMMARY
        self.destination_alias = destination_alias(self)
        self.outlets = [*self.outlets, self.destination_alias]

    def execute(self, context: Context) -> dict[str, Any]:
        params = context["params"]
        config = load_config(self.config_path)
        report = self.run_report(context, str(params.get("run_id") or "").strip())
        dry_run = bool(params.get("dry_run", True))
        with open_stores(config) as stores:
            try:
                undone = rollback(
                    config, report, stores, dry_run=dry_run, targets=params.get("targets") or None
                )
            except SecretSyncError as exc:
                raise AirflowFailException(f"{exc}; nothing was written") from None
        self.summary = render_human(undone)
        self.log.info("%s\n%s", render_compact(undone), self.summary)
        data = undone.to_dict()
        if undone.failed:
            context["ti"].xcom_push(key="return_value", value=data)
            names = ", ".join(t.target for t in undone.failed)
            raise AirflowFailException(f"secretsync rollback: failed or refused in: {names}")
        if not dry_run:
            for target in undone.targets:
                block = config.targets[target.target].destination
                emit_destination_event(context, self.destination_alias, block, target)
        return data

    def run_report(self, context: Context, run_id: str) -> Report:
        """The report of run ``run_id`` of the pipeline DAG; a clear failure if there is none."""
        ti = context["ti"]
        dag_id = self.pipeline_dag_id
        where = f"run '{run_id}' of DAG '{dag_id}'"
        if not ti.get_dr_count(dag_id=dag_id, run_ids=[run_id]):
            raise AirflowFailException(f"there is no {where}; nothing was written")
        state = DagRunState(ti.get_dagrun_state(dag_id=dag_id, run_id=run_id))
        if state not in ENDED:
            raise AirflowFailException(
                f"{where} is {state.value}: roll it back once it has ended; nothing was written"
            )
        data = ti.xcom_pull(task_ids=task_id("report"), dag_id=dag_id, run_id=run_id)
        if not data:
            raise AirflowFailException(
                f"{where} has no report (its report task did not run); nothing was written"
            )
        return Report.from_dict(data)


def build_rollback_dag(
    config_path: str | Path, *, pipeline_dag_id: str | None = None, **dag_kwargs: Any
) -> DAG:
    """The rollback DAG of one config file: id ``<dag_id>_rollback``, manual triggers only.

    ``pipeline_dag_id``: the DAG whose runs it rolls back, when :func:`build_dag` was given
    another ``dag_id`` than the config's. ``dag_kwargs`` override the DAG's settings.
    """
    config = load_config(config_path)
    pipeline_dag_id = pipeline_dag_id or config.dag_id
    settings: dict[str, Any] = {
        "dag_id": rollback_dag_id(pipeline_dag_id),
        "schedule": None,
        "catchup": False,
        "max_active_runs": 1,
        "tags": [*config.dag.tags, "rollback"],
        "params": rollback_params(config, pipeline_dag_id),
        "description": f"Roll back a run of {pipeline_dag_id} (dry run unless unticked)",
        "doc_md": DOC_MD.format(dag_id=pipeline_dag_id),
        **dag_kwargs,
    }
    with DAG(**settings) as dag:
        SecretSyncRollbackOperator(
            task_id=ROLLBACK_TASK_ID,
            config_path=str(config.source_file),
            pipeline_dag_id=pipeline_dag_id,
        )
    dag.fileloc = caller_file() or dag.fileloc
    return dag
