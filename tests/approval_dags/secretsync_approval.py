"""A pipeline whose targets need approval, served by the Airflow of tests/test_approval_rest.py."""

from pathlib import Path

from airflow_secretsync.airflow import build_dag

dag = build_dag(Path(__file__).with_name("approval.yaml"))
