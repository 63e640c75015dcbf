"""Airflow adapters: operators, the DAG builder and the task group form."""

from airflow_secretsync.airflow.dag_builder import SecretSyncTaskGroup, build_dag
from airflow_secretsync.airflow.operators import (
    MergeSecretsOperator,
    SecretSyncReportOperator,
    SyncSecretsOperator,
)

__all__ = [
    "MergeSecretsOperator",
    "SecretSyncReportOperator",
    "SecretSyncTaskGroup",
    "SyncSecretsOperator",
    "build_dag",
]
