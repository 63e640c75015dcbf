"""Step secrets of the generated pipeline, in the DAG and in ``secretsync pipeline``: the AWS
destination's Airflow connection exists only as a step secret of ``sync.Staging``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from airflow_secretsync.cli import main
from tests.helpers import read_aws, seed_vault, unique, write_config

CANARY = "canary-61c0d2aa-pipeline"

CONFIG = """
version: 1
dag: {{dag_id: {ns}, retries: 0}}
merge_store: {{vault: {{path: {ns}/merged}}}}
sources:
  platform: {{vault: {{path: {ns}/src}}}}
targets:
  Staging:
    imports: [platform]
    aws: {{prefix: {ns}/staging/, connection_id: {conn_id}}}
"""


@pytest.fixture
def world(servers, vault_client, aws_client, tmp_path: Path) -> dict:
    """A source, and the destination's connection (with a canary inside) stored in Vault."""
    ns = unique("ssp")
    connection = json.loads(servers.aws.connection_uri())
    seed_vault(
        vault_client,
        ns,
        {
            "src/app/db": {"password": "db-password"},
            "conn": {"uri": json.dumps({**connection, "description": CANARY})},
        },
    )
    return {
        "ns": ns,
        "env": f"AIRFLOW_CONN_AWS_{ns.upper()}",
        "conn_ref": f"ref+vault://secret/{ns}/conn#/uri",
        "config": CONFIG.format(ns=ns, conn_id=f"aws_{ns}"),
        "sm": aws_client("secretsmanager"),
    }


def test_generated_dag_runs_sync_with_its_step_secret(world, tmp_path: Path, dag_file) -> None:
    ns = world["ns"]
    config = write_config(
        tmp_path,
        world["config"] + f'    step_secrets: {{{world["env"]}: "{world["conn_ref"]}"}}\n',
    )
    dag = dag_file(
        ns, f"from airflow_secretsync.airflow import build_dag\ndag = build_dag({str(config)!r})\n"
    )

    run = dag.test()

    assert {ti.task_id: str(ti.state) for ti in run.get_task_instances()} == {
        "merge.Staging": "success", "sync.Staging": "success", "report": "success",
    }  # fmt: skip
    assert read_aws(world["sm"], f"{ns}/staging/") == {"app/db": {"password": "db-password"}}
    assert world["env"] not in os.environ


def run_cli(capsys, config: Path, *args: str) -> tuple[int, str, str]:
    code = main(["pipeline", "--config", str(config), "--output", "json", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_option_overrides_the_config(world, tmp_path: Path, capsys) -> None:
    ns, env = world["ns"], world["env"]
    missing = f"ref+vault://secret/{ns}/missing#/uri"
    config = write_config(
        tmp_path, world["config"] + f'step_secrets:\n  sync.Staging: {{{env}: "{missing}"}}\n'
    )

    code, out, err = run_cli(capsys, config)  # the config's reference points at nothing
    assert code == 2
    (staging,) = json.loads(out)["targets"]
    assert staging["status"] == "failed"
    assert staging["error"].startswith(
        f"task 'sync.Staging': step secret {env} = '{missing}' cannot be resolved"
    )
    assert read_aws(world["sm"], f"{ns}/staging/") == {}

    code, out, err = run_cli(
        capsys, config, "--step-secret", f"sync.Staging:{env}={world['conn_ref']}"
    )
    assert code == 0
    assert json.loads(out)["targets"][0]["status"] == "success"
    assert read_aws(world["sm"], f"{ns}/staging/") == {"app/db": {"password": "db-password"}}
    assert env not in os.environ
    assert CANARY not in out + err


@pytest.mark.parametrize(
    ("option", "error"),
    [
        (f"sync.Staging={CANARY}", "error: --step-secret a value: expected TASK:NAME=REF"),
        (
            "sync.Stagin:TOKEN=ref+env://TOKEN_SOURCE",
            "error: step secrets for unknown task 'sync.Stagin' (did you mean 'sync.Staging'?)",
        ),
    ],
)
def test_cli_malformed_option_is_one_clear_error(world, tmp_path, capsys, option, error) -> None:
    config = write_config(tmp_path, world["config"])

    code, out, err = run_cli(
        capsys, config, "--step-secret", "merge.Staging:OK=ref+env://X", "--step-secret", option
    )

    assert code == 2
    assert out == ""
    assert err.startswith(error)
    assert len(err.strip().splitlines()) == 1
    assert CANARY not in err
    assert read_aws(world["sm"], f"{world['ns']}/staging/") == {}
