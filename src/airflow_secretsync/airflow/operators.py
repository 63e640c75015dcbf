"""Operators of a secretsync DAG: thin adapters over the core engine."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from airflow.sdk import BaseOperator, Context
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from airflow_secretsync.airflow.assets import destination_alias, emit_destination_event
from airflow_secretsync.airflow.params import run_options
from airflow_secretsync.client_logging import quiet_client_loggers
from airflow_secretsync.config import PipelineConfig, load_config
from airflow_secretsync.core.engine import Engine, RunOptions
from airflow_secretsync.core.render import render_compact, render_human
from airflow_secretsync.core.report import Report, TargetReport
from airflow_secretsync.errors import SecretSyncError
from airflow_secretsync.stores.factory import StoreFactory


def run_description(dry_run_default: bool) -> str:
    """A template of what a run does (dry run or not, mode, targets), for the Rendered
    Templates tab; ``dry_run_default`` applies when the run's params have no ``dry_run``."""
    return (
        f"{{{{ 'DRY RUN: reads and diffs, writes nothing' if params.get('dry_run', "
        f"{bool(dry_run_default)}) else 'writes changes' }}}}; "
        "mode {{ params.get('mode') or 'full' }}; "
        "targets {{ (params.get('targets') or ['all']) | join(', ') }}"
    )


PENDING_SUMMARY = "(filled in when the task has run)"


@contextmanager
def open_stores(config: PipelineConfig) -> Iterator[StoreFactory]:
    """The config's stores, closed after; no request or response body at any log level."""
    with quiet_client_loggers():
        stores = StoreFactory(config)
        try:
            yield stores
        finally:
            stores.close()


class _ConfigOperator(BaseOperator):
    """A task of one config file, loaded at execute time.

    ``run_settings`` (what this run does) and ``summary`` (what it did) are shown in the
    Rendered Templates tab: ``summary`` is rewritten once the task has run. Names only.
    """

    template_fields: Sequence[str] = ("config_path", "run_settings", "summary")
    overwrite_rtif_after_execution = True

    def __init__(self, *, config_path: str, dry_run_default: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.config_path = str(config_path)
        self.run_settings = run_description(dry_run_default)
        self.summary = PENDING_SUMMARY

    def effective_options(self, context: Context) -> tuple[PipelineConfig, RunOptions]:
        """The config and this run's options: the DAG's params where it defines them, the
        config's defaults (``pipeline.dry_run``) otherwise; the same for every task."""
        config = load_config(self.config_path)
        return config, run_options(config, context["params"])


class _TargetOperator(_ConfigOperator):
    """One target of one config; the config is loaded at execute time, stores built then."""

    ui_color = "#e8f0fe"

    def __init__(self, *, config_path: str, target: str, **kwargs: Any) -> None:
        super().__init__(config_path=config_path, **kwargs)
        self.target = target

    def run_engine(self, context: Context, action: str) -> tuple[PipelineConfig, RunOptions, Any]:
        """The config, this run's options and what the engine's ``merge_target``/``sync_target``
        returned."""
        config, options = self.effective_options(context)
        with open_stores(config) as stores:
            engine = Engine(config, stores, options)
            selected = engine.merges if action == "merge" else engine.syncs
            if not selected(self.target):
                raise AirflowSkipException(f"target '{self.target}' is not selected for {action}")
            if action == "merge":
                return config, options, engine.merge_target(self.target)
            return config, options, engine.sync_target(self.target)


class MergeSecretsOperator(_TargetOperator):
    """Deep-merge a target's parents and imports into the merge store (SPEC §2)."""

    ui_color = "#fef3e0"

    def execute(self, context: Context) -> dict[str, Any]:
        _, options, count = self.run_engine(context, "merge")
        done = "would merge" if options.dry_run else "merged"
        self.summary = f"{self.target}: {done} {count} secret{'' if count == 1 else 's'}"
        return {"target": self.target, "secrets": count}


class SyncSecretsOperator(_TargetOperator):
    """Diff a target's destination against the merge store and apply (SPEC §3).

    Returns the target's report (names only) as XCom. A failed target pushes its report,
    then fails the task (policy refusals without retries). A sync that changed its destination
    emits the destination's asset event (see :mod:`airflow_secretsync.airflow.assets`).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.destination_alias = destination_alias(self)
        self.outlets = [*self.outlets, self.destination_alias]

    def execute(self, context: Context) -> dict[str, Any]:
        config, options, report = self.run_engine(context, "sync")
        return self.finish(context, config, options, report)

    def finish(
        self, context: Context, config: PipelineConfig, options: RunOptions, report: TargetReport
    ) -> dict[str, Any]:
        """Show ``report``, push it as XCom and end the task by its status: a failed target
        fails the task, a rejected or timed-out approval skips it (nothing was written)."""
        data = report.to_dict()
        whole = Report(dry_run=options.dry_run, targets=(report,))
        self.summary = render_human(whole)
        if report.status != "success":
            context["ti"].xcom_push(key="return_value", value=data)
        if report.status in ("rejected", "timed_out"):
            self.log.info("%s", self.summary)
            raise AirflowSkipException(f"target '{self.target}': {report.error}")
        if report.status == "failed":
            message = f"sync of target '{self.target}' failed: {report.error}"
            raise SecretSyncError(message) if report.retryable else AirflowFailException(message)
        self.log.info("%s", self.summary)
        if not options.dry_run:
            destination = config.targets[self.target].destination
            emit_destination_event(context, self.destination_alias, destination, report)
        return data


class SecretSyncReportOperator(_ConfigOperator):
    """Gather the sync tasks' reports into one (SPEC §4); runs whatever happened upstream.

    Its log starts with the one-line summary (``secretsync (dry run): ...``), its ``summary``
    rendered field holds the whole report, its XCom the report as data (also when it fails: a
    rollback reads it). Fails when a target failed, when a target's approval timed out, or when
    ``fail_on_changes`` is set and anything changed (a rejected target does not fail it: a
    person decided).
    """

    ui_color = "#e6f4ea"

    def __init__(self, *, config_path: str, sync_task_ids: Sequence[str], **kwargs: Any) -> None:
        kwargs.setdefault("trigger_rule", "all_done")
        super().__init__(config_path=config_path, **kwargs)
        self.sync_task_ids = list(sync_task_ids)

    def execute(self, context: Context) -> dict[str, Any]:
        ti = context["ti"]
        states: dict[str, Any] = {}
        if self.sync_task_ids:
            states = ti.get_task_states(
                dag_id=ti.dag_id, task_ids=self.sync_task_ids, run_ids=[ti.run_id]
            ).get(ti.run_id, {})
        targets = []
        for task_id in self.sync_task_ids:
            data = ti.xcom_pull(task_ids=task_id)
            target = task_id.rsplit(".", 1)[-1]
            if data:
                targets.append(TargetReport.from_dict(data))
            elif states.get(task_id) == "skipped":
                targets.append(TargetReport(target=target, status="skipped"))
            else:
                error = f"task {task_id} ended {states.get(task_id) or 'without a report'}"
                targets.append(TargetReport(target=target, status="failed", error=error))
        _, options = self.effective_options(context)
        report = Report(dry_run=options.dry_run, targets=tuple(targets))
        self.summary = render_human(report)
        self.log.info("%s\n%s", render_compact(report), self.summary)
        data = report.to_dict()
        problems = []
        if report.failed:
            problems.append(f"failed targets: {', '.join(t.target for t in report.failed)}")
        timed_out = [t.target for t in report.not_approved if t.status == "timed_out"]
        if timed_out:
            problems.append(
                f"no approval in time for targets: {', '.join(timed_out)} (nothing was "
                "written to them)"
            )
        failure = f"secretsync: {'; '.join(problems)}" if problems else None
        if not failure and context["params"].get("fail_on_changes") and report.has_changes:
            failure = (
                f"secretsync: fail_on_changes is set and {report.summary.changed} secrets changed"
            )
        if failure:
            ti.xcom_push(key="return_value", value=data)  # a failed run can be rolled back too
            raise AirflowFailException(failure)
        return data
