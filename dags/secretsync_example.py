"""The example secret sync DAG, generated from ``configs/example.yaml``."""

from pathlib import Path

from airflow_secretsync.airflow import build_dag

dag = build_dag(Path(__file__).parent / "configs" / "example.yaml")
