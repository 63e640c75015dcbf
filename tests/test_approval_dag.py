"""The operators a DAG gets for targets with ``approval: required`` (parsed, not run)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from airflow.providers.standard.operators.hitl import HITLOperator
from airflow.sdk import DAG

from airflow_secretsync.airflow import SecretSyncTaskGroup, SyncSecretsOperator, build_dag
from airflow_secretsync.airflow.approval import (
    ApplyApprovedPlanOperator,
    ApproveTargetOperator,
    PlanTargetOperator,
)

CONFIG = Path(__file__).with_name("approval_dags") / "approval.yaml"


def test_each_approval_target_gets_plan_approve_and_an_exact_apply() -> None:
    dag = build_dag(CONFIG)
    kinds = {t.task_id: type(t) for t in dag.tasks if t.task_id.endswith((".Approved", ".Direct"))}
    assert kinds == {
        "merge.Approved": kinds["merge.Approved"], "merge.Direct": kinds["merge.Direct"],
        "plan.Approved": PlanTargetOperator, "approve.Approved": ApproveTargetOperator,
        "sync.Approved": ApplyApprovedPlanOperator, "sync.Direct": SyncSecretsOperator,
    }  # fmt: skip
    approve = dag.get_task("approve.Approved")
    assert isinstance(approve, HITLOperator)
    assert approve.options == ["Approve", "Reject"]
    assert approve.assigned_users == [{"id": "admin", "name": "admin"}]
    assert approve.response_timeout == timedelta(minutes=60)
    assert approve.defaults is None  # a timeout is never read as an answer
    assert dag.get_task("approve.Expiring").response_timeout == timedelta(seconds=30)
    assert dag.get_task("approve.Rejected").assigned_users is None
    assert dag.get_task("sync.Approved").upstream_task_ids == {"approve.Approved"}


def test_inside_a_task_group_the_siblings_ids_carry_its_prefix() -> None:
    with DAG("host", schedule=None) as dag:
        SecretSyncTaskGroup(CONFIG, group_id="secrets")
    approve = dag.get_task("secrets.approve.Approved")
    sync = dag.get_task("secrets.sync.Approved")
    assert approve.plan_task_id == "secrets.plan.Approved"
    assert (sync.plan_task_id, sync.approve_task_id) == (
        "secrets.plan.Approved",
        "secrets.approve.Approved",
    )


def test_the_approve_task_gets_no_step_secrets() -> None:
    from airflow_secretsync.config import load_config
    from airflow_secretsync.step_secrets import StepSecrets

    config = load_config(CONFIG)
    with_secret = config.model_copy(
        update={
            "targets": {
                **config.targets,
                "Approved": config.targets["Approved"].model_copy(
                    update={"step_secrets": {"TOKEN": "ref+env://TOKEN"}}
                ),
            }
        }
    )
    tasks = StepSecrets.from_config(with_secret).get_step_secrets()
    assert {t for t in tasks if t.endswith(".Approved")} == {
        "merge.Approved",
        "plan.Approved",
        "sync.Approved",
    }
