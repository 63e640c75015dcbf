"""At ``AIRFLOW__LOGGING__LOGGING_LEVEL=DEBUG`` botocore logs request parameters and response
bodies: none of them may reach a task log while this package's operators (merge, sync, step
secret resolution) talk to the stores, nor the CLI's output."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import aws_to_vault_config, seed_aws, unique
from tests.reliability.cli import secretsync
from tests.step_secrets.scan import log_hits

DAG_SOURCE = """
from airflow_secretsync.airflow import SecretSyncDagBuilder

builder = SecretSyncDagBuilder({config!r}, dag_id={dag_id!r}, default_args={{"retries": 0}})
builder.add_step_secret("sync.Prod", "DEPLOY_TOKEN", {step_ref!r})
dag = builder.build()
"""


@pytest.fixture
def pipeline(servers, aws_client, tmp_path) -> tuple[Path, dict[str, str], str]:
    ns = unique("debug")
    canaries = {name: f"canary-{name}-{unique()}" for name in ("password", "api", "step")}
    seed_aws(
        aws_client("secretsmanager"),
        {
            f"{ns}/src/db": {"password": canaries["password"]},
            f"{ns}/src/api": canaries["api"],
            f"{ns}/ci/token": canaries["step"],
        },
    )
    config = aws_to_vault_config(tmp_path, ns)
    return config, canaries, f"ref+awssecrets://{ns}/ci/token"


def test_debug_level_dag_run_logs_no_value(
    pipeline, dag_file, worker_runs, airflow_db: Path, monkeypatch
) -> None:
    monkeypatch.setenv("AIRFLOW__LOGGING__LOGGING_LEVEL", "DEBUG")
    config, canaries, step_ref = pipeline
    dag_id = unique("secretsync_debug_")
    dag = dag_file(dag_id, DAG_SOURCE.format(config=str(config), dag_id=dag_id, step_ref=step_ref))
    run = dag.test()
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    assert set(states.values()) == {"success"}, states
    logs = airflow_db / "logs" / f"dag_id={dag_id}"
    text = "".join(path.read_text() for path in logs.rglob("*.log"))
    assert '"level":"debug"' in text  # the run really logged at DEBUG
    assert log_hits(logs, canaries.values()) == []


def test_debug_level_cli_prints_no_value(pipeline, monkeypatch) -> None:
    monkeypatch.setenv("AIRFLOW__LOGGING__LOGGING_LEVEL", "DEBUG")
    config, canaries, step_ref = pipeline
    result = secretsync(
        "pipeline", "--config", config, "--step-secret", f"sync.Prod:DEPLOY_TOKEN={step_ref}"
    )
    assert result.code == 0
    assert not any(value in result.out + result.err for value in canaries.values())
