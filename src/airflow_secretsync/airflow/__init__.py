"""Airflow adapters: operators, the DAG builder, the task group form, the rollback DAG, step
secrets and the destinations' assets."""

from airflow_secretsync.airflow.assets import target_asset
from airflow_secretsync.airflow.dag_builder import (
    SecretSyncDagBuilder,
    SecretSyncTaskGroup,
    build_dag,
)
from airflow_secretsync.airflow.operators import (
    MergeSecretsOperator,
    SecretSyncReportOperator,
    SyncSecretsOperator,
)
from airflow_secretsync.airflow.rollback_dag import (
    SecretSyncRollbackOperator,
    build_rollback_dag,
)
from airflow_secretsync.airflow.step_secrets import (
    attach_step_secrets,
    task_step_secrets,
    with_step_secrets,
)
from airflow_secretsync.step_secrets import StepSecrets

__all__ = [
    "MergeSecretsOperator",
    "SecretSyncDagBuilder",
    "SecretSyncReportOperator",
    "SecretSyncRollbackOperator",
    "SecretSyncTaskGroup",
    "StepSecrets",
    "SyncSecretsOperator",
    "attach_step_secrets",
    "build_dag",
    "build_rollback_dag",
    "target_asset",
    "task_step_secrets",
    "with_step_secrets",
]
