"""``dags/step_secrets_example.py`` parses with no network access and declares what it shows."""

from __future__ import annotations

import importlib.util
import socket
from pathlib import Path

import pytest

from airflow_secretsync.airflow.step_secrets import task_step_secrets


def test_example_parses_offline_with_references_only(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args, **kwargs):
        raise AssertionError("the DAG file must not touch the network while parsed")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    path = Path(__file__).resolve().parents[2] / "dags" / "step_secrets_example.py"
    spec = importlib.util.spec_from_file_location("step_secrets_example", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    tasks = module.dag.task_dict
    assert task_step_secrets(tasks["publish_report"]) == {
        "REPORTING_API_TOKEN": "ref+vault://secret/examples/reporting#/token"
    }
    assert task_step_secrets(tasks["deploy"]) == {
        "DEPLOY_KEY": "ref+awssecrets://examples/deploy#/key"
    }
    assert task_step_secrets(tasks["audit"]) == {}
    pipeline = module.pipeline_dag
    assert pipeline.dag_id == "secretsync_example_step_secrets"
    assert set(task_step_secrets(pipeline.task_dict["sync.Staging"])) == {
        "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
    }  # fmt: skip
    assert task_step_secrets(pipeline.task_dict["sync.Production"]) == {}
