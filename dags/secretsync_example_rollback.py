"""Rolls back a run of ``secretsync_example``: trigger ``secretsync_example_rollback`` with that
run's Run ID (dry run unless ``dry_run`` is unticked)."""

from pathlib import Path

from airflow_secretsync.airflow import build_rollback_dag

dag = build_rollback_dag(Path(__file__).parent / "configs" / "example.yaml")
