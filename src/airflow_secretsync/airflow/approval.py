"""The tasks of a target with ``approval: required`` (SPEC §10): ``plan.<T>`` -> ``approve.<T>``
(Airflow's human-in-the-loop request) -> ``sync.<T>`` (applies exactly the approved plan).

The plan task pushes ``{"plan": <plan document>, "dry_run": bool, "destination": str}``: names,
change types, counts and version ids, never a value or a hash of one. The approval task pushes
the :class:`~airflow_secretsync.core.approval.Decision`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from airflow.providers.standard.operators.hitl import HITLOperator
from airflow.sdk import Context
from airflow.sdk.exceptions import AirflowSkipException

from airflow_secretsync.airflow.operators import SyncSecretsOperator, _TargetOperator, open_stores
from airflow_secretsync.airflow.params import run_options
from airflow_secretsync.config import PipelineConfig
from airflow_secretsync.config.loader import load_config_and_bytes
from airflow_secretsync.config.locations import destination_text
from airflow_secretsync.config.pipeline import task_id
from airflow_secretsync.core.approval import (
    Decision,
    decided_report,
    planned_changes,
    request_text,
    target_entry,
)
from airflow_secretsync.core.engine import Engine
from airflow_secretsync.core.plans import apply_plan, make_plan, plan_report
from airflow_secretsync.core.report import TargetReport
from airflow_secretsync.errors import SecretSyncError

#: How long a plan stays appliable after the approval request's timeout (the sync task's
#: queueing and retries).
PLAN_GRACE = timedelta(hours=1)


class PlanTargetOperator(_TargetOperator):
    """``plan.<T>``: diff one target into a plan (as ``secretsync plan --out`` does).

    In a real run the merge tasks already wrote the merge store, so the plan diffs against it
    (``sync-only``); in a dry run it computes the desired values from the sources.
    """

    ui_color = "#fff8e1"

    def __init__(self, *, approval_timeout_minutes: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.approval_timeout_minutes = approval_timeout_minutes

    def execute(self, context: Context) -> dict[str, Any]:
        config, raw = load_config_and_bytes(self.config_path)
        options = run_options(config, context["params"])
        expires_in = timedelta(minutes=self.approval_timeout_minutes) + PLAN_GRACE
        with open_stores(config) as stores:
            if not Engine(config, stores, options).syncs(self.target):
                raise AirflowSkipException(f"target '{self.target}' is not selected for sync")
            mode = options.mode if options.dry_run else "sync-only"
            plan = make_plan(
                config, raw, stores, mode=mode, targets=(self.target,), expires_in=expires_in
            )
        entry = target_entry(plan, self.target)
        self.summary = (
            f"{self.target}: {len(planned_changes(entry))} change(s) planned"
            if entry["status"] == "success"
            else f"{self.target}: plan failed: {entry['error']}"
        )
        self.log.info("%s", self.summary)
        return {
            "plan": plan,
            "dry_run": options.dry_run,
            "destination": destination_text(config, self.target),
        }


class ApproveTargetOperator(HITLOperator):
    """``approve.<T>``: the plan's summary as a human-in-the-loop request (Approve / Reject).

    Skipped when there is nothing to approve: a dry run, a failed plan, no change. Returns the
    :class:`Decision`; a timeout is a decision too (``timed_out``), so ``sync.<T>`` reports it.
    """

    APPROVE = "Approve"
    REJECT = "Reject"
    ui_color = "#fde7e9"

    def __init__(
        self,
        *,
        target: str,
        approvers: list[str],
        approval_timeout_minutes: float,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            subject=f"secretsync: approve the changes to target {target}",
            options=[self.APPROVE, self.REJECT],
            multiple=False,
            assigned_users=[{"id": user, "name": user} for user in approvers] or None,
            response_timeout=timedelta(minutes=approval_timeout_minutes),
            **kwargs,
        )
        self.target = target
        self.plan_task_id = task_id("plan", target)  # the DAG builder adds a group's prefix

    def execute(self, context: Context) -> Any:
        planned = context["ti"].xcom_pull(task_ids=self.plan_task_id)
        if not planned:
            raise AirflowSkipException(f"target '{self.target}' has no plan in this run")
        if planned["dry_run"]:
            raise AirflowSkipException("dry run: nothing to approve")
        entry = target_entry(planned["plan"], self.target)
        if entry["status"] != "success":
            raise AirflowSkipException("the plan failed; nothing to approve")
        if not planned_changes(entry):
            raise AirflowSkipException("no changes: nothing to approve")
        timeout = f"{self.response_timeout.total_seconds() / 60:g} minutes"
        self.subject, self.body = request_text(entry, planned["destination"], timeout)
        return super().execute(context)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        if event.get("error_type") == "timeout":
            self.log.info("No response in time: nothing will be written")
            return Decision("timed_out").to_dict()
        response = super().execute_complete(context=context, event=event)
        user = response["responded_by_user"] or {}
        approved = response["chosen_options"] == [self.APPROVE]
        decision = Decision(
            "approved" if approved else "rejected",
            by=user.get("name") or user.get("id"),
            at=response["responded_at"].isoformat(),
        )
        self.log.info("%s by %s", decision.outcome, decision.by)
        return decision.to_dict()


class ApplyApprovedPlanOperator(SyncSecretsOperator):
    """``sync.<T>`` of a target with approval: applies exactly the approved plan (refusing,
    per secret, what drifted since), or reports the rejection / timeout, writing nothing."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # the DAG builder adds an enclosing group's prefix
        self.plan_task_id = task_id("plan", self.target)
        self.approve_task_id = task_id("approve", self.target)

    def execute(self, context: Context) -> dict[str, Any]:
        ti = context["ti"]
        planned = ti.xcom_pull(task_ids=self.plan_task_id)
        if not planned:
            raise AirflowSkipException(f"target '{self.target}' is not selected for sync")
        config, raw = load_config_and_bytes(self.config_path)
        options = run_options(config, context["params"])
        plan = planned["plan"]
        entry = target_entry(plan, self.target)
        if planned["dry_run"] or entry["status"] != "success" or not planned_changes(entry):
            (report,) = plan_report({"targets": [entry]}).targets
            report = replace(report, retryable=False)
        else:
            decision = ti.xcom_pull(task_ids=self.approve_task_id)
            if not decision:
                raise SecretSyncError(f"target '{self.target}': no approval decision found")
            report = self._decided(Decision.from_dict(decision), config, raw, plan, entry)
        return self.finish(context, config, options, report)

    def _decided(
        self,
        decision: Decision,
        config: PipelineConfig,
        raw: bytes,
        plan: dict[str, Any],
        entry: dict[str, Any],
    ) -> TargetReport:
        if decision.outcome != "approved":
            return decided_report(entry, decision)
        with open_stores(config) as stores:
            try:
                (report,) = apply_plan(config, raw, plan, stores).targets
            except SecretSyncError as exc:  # another config, an expired plan
                report = TargetReport(target=self.target, status="failed", error=str(exc))
        # a retry would find the applied changes "changed since the plan": a new run replans
        return replace(report, approval=decision.to_dict(), retryable=False)
