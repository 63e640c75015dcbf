"""The foundation works: real servers answer through the providers' hooks, Airflow finds us."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from airflow_secretsync import __version__
from airflow_secretsync.cli import main
from airflow_secretsync.errors import MissingExtraError, require_extra


def test_version_cli(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"secretsync {__version__}"


def test_missing_extra_names_the_extra() -> None:
    with pytest.raises(MissingExtraError) as exc:
        require_extra("airflow_secretsync_no_such_module", "The Vault store", "hashicorp")
    assert "pip install 'airflow-secretsync[hashicorp]'" in str(exc.value)


def test_vault_hook_reads_and_writes_kv_v2(servers) -> None:
    from airflow.providers.hashicorp.hooks.vault import VaultHook

    hook = VaultHook(vault_conn_id="vault_default")
    path = f"foundation/{uuid.uuid4().hex}"
    hook.create_or_update_secret(path, {"user": "svc"})
    assert hook.get_secret(path) == {"user": "svc"}


def test_secrets_manager_hook_round_trip(servers) -> None:
    from airflow.providers.amazon.aws.hooks.secrets_manager import SecretsManagerHook

    client = SecretsManagerHook(aws_conn_id="aws_default").get_conn()
    name = f"foundation/{uuid.uuid4().hex}"
    client.create_secret(Name=name, SecretString=json.dumps({"k": "v"}))
    assert json.loads(client.get_secret_value(SecretId=name)["SecretString"]) == {"k": "v"}
    assert client.meta.endpoint_url == servers.aws.url


def test_provider_is_discovered(airflow_db: Path) -> None:
    out = subprocess.run(
        [str(Path(sys.executable).with_name("airflow")), "providers", "list", "-o", "json"],
        check=True,
        capture_output=True,
        text=True,
        env=os.environ.copy(),
    ).stdout
    packages = {p["package_name"]: p for p in json.loads(out[out.index("[") :])}
    assert packages["airflow-secretsync"]["version"] == __version__


DAG_SOURCE = """
from airflow.sdk import DAG, BaseHook, task

with DAG(dag_id="DAG_ID", schedule=None) as dag:

    @task
    def vault_port() -> str:
        return f"port={BaseHook.get_connection('vault_default').port}"

    @task
    def aws_endpoint() -> str:
        return BaseHook.get_connection("aws_default").extra_dejson["endpoint_url"]

    vault_port() >> aws_endpoint()
"""


def test_dag_reads_both_connections(dag_file, servers) -> None:
    dag_id = f"foundation_{uuid.uuid4().hex[:8]}"
    dag = dag_file(dag_id, DAG_SOURCE.replace("DAG_ID", dag_id))
    run = dag.test()
    assert run.state == "success"
    tis = {ti.task_id: ti for ti in run.get_task_instances()}
    assert {k: ti.state for k, ti in tis.items()} == {
        "vault_port": "success",
        "aws_endpoint": "success",
    }
    assert tis["vault_port"].xcom_pull(task_ids="vault_port") == f"port={servers.vault.port}"
    assert tis["aws_endpoint"].xcom_pull(task_ids="aws_endpoint") == servers.aws.url
