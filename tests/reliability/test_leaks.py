"""Leaks: the example pipeline with a canary in every source value, every step secret and every
secret already at a destination. After a DAG run in real worker processes and CLI runs in every
output format, no canary is in a task log, anywhere in Airflow's database, in CLI output or in
an exception raised on the way (SPEC §4: names only, never a value)."""

from __future__ import annotations

import json
import traceback
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import hvac
import pytest

from airflow_secretsync.core.render import OUTPUT_FORMATS
from airflow_secretsync.errors import SecretSyncError
from airflow_secretsync.refs import resolve_reference
from airflow_secretsync.step_secrets import StepSecrets, parse_step_secret_option
from devtools.isolated_servers import isolated_servers
from devtools.paths import REPO
from devtools.seed import seed_example
from devtools.servers import LocalServers
from tests.helpers import read_aws, read_vault, seed_aws, seed_vault, unique
from tests.reliability.cli import secretsync
from tests.step_secrets.scan import database_hits, log_hits

EXAMPLE = REPO / "dags" / "configs" / "example.yaml"

DAG_SOURCE = """
from airflow_secretsync.airflow import SecretSyncDagBuilder

builder = SecretSyncDagBuilder({config!r}, dag_id={dag_id!r}, default_args={{"retries": 0}})
builder.add_step_secret("merge.Base", "LEGACY_API_KEY", {aws_ref!r})
builder.add_step_secret("sync.Production", "DEPLOY_TOKEN", {vault_ref!r})
dag = builder.build()
"""


def canary(name: str) -> str:
    return f"canary-{name}-{uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def canaries() -> dict[str, str]:
    names = [
        "db-host", "db-user", "db-password", "api-token", "api-scope", "scratch",
        "legacy-password", "legacy-scope", "smtp", "deploy-token", "legacy-api-key",
        "old-staging-password", "unowned-token", "binary",
    ]  # fmt: skip
    return {name: canary(name) for name in names}


@pytest.fixture(scope="module")
def own_servers(servers) -> Iterator[LocalServers]:
    """OpenBao and moto sharing no state with other tests (the example's locations are fixed
    names); Airflow's default connections point at them meanwhile."""
    with isolated_servers() as running, pytest.MonkeyPatch.context() as patch:
        for key, value in running.airflow_env().items():
            patch.setenv(key, value)
        yield running


@pytest.fixture(scope="module")
def example(own_servers, canaries) -> dict[str, str]:
    """The example's sources seeded with canaries, a managed Staging secret holding an old
    value (so it is modified), a Production secret the tool did not create (so Production
    refuses to overwrite it), and two step-secret values."""
    c = canaries
    platform = {
        "app/db": {"host": c["db-host"], "port": 5432, "user": c["db-user"],
                   "password": c["db-password"]},
        "app/api": {"token": c["api-token"], "scopes": [c["api-scope"]]},
        "tmp/scratch": {"note": c["scratch"]},
    }  # fmt: skip
    legacy = {
        "legacy/app/db": json.dumps({"password": c["legacy-password"], "pool": 10}),
        "legacy/app/api": json.dumps({"scopes": [c["legacy-scope"]]}),
        "legacy/smtp": c["smtp"],
    }
    seed_example(own_servers, platform=platform, legacy=legacy)
    vault = hvac.Client(url=own_servers.vault.url, token=own_servers.vault.token)
    sm = boto3.client("secretsmanager", endpoint_url=own_servers.aws.url, region_name="us-east-1")
    ns = unique("leak")
    seed_vault(vault, ns, {"ci": {"token": c["deploy-token"]}})
    seed_aws(
        sm, {f"{ns}/ci-key": c["legacy-api-key"], f"{ns}/blob": b"\xff\xfe" + c["binary"].encode()}
    )
    sm.create_secret(
        Name="staging/app/db",
        SecretString=json.dumps({"password": c["old-staging-password"], "pool": 10}),
        Tags=[
            {"Key": "managed-by", "Value": "airflow-secretsync"},
            {"Key": "secretsync-owner", "Value": "secretsync_example/Staging"},
        ],
    )
    seed_vault(vault, "prod", {"app/api": {"token": c["unowned-token"]}})
    return {
        "ns": ns,
        "vault_ref": f"ref+vault://secret/{ns}/ci#/token",
        "aws_ref": f"ref+awssecrets://{ns}/ci-key",
    }


def assert_no_canary(texts: list[str], canaries: dict[str, str]) -> None:
    found = {name for name, value in canaries.items() for text in texts if value in text}
    assert found == set()


def test_dag_run_leaves_no_value_in_logs_or_database(
    example, canaries, dag_file, worker_runs, home: Path, own_servers
) -> None:
    dag_id = unique("secretsync_leaks_")
    dag = dag_file(
        dag_id,
        DAG_SOURCE.format(
            config=str(EXAMPLE),
            dag_id=dag_id,
            aws_ref=example["aws_ref"],
            vault_ref=example["vault_ref"],
        ),
    )
    run = dag.test(run_conf={"fail_on_changes": False, "note": "conf is stored too"})

    # what was written, and what was not
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    assert states == {
        "merge.Base": "success", "merge.Staging": "success", "merge.Production": "success",
        "merge.Ci": "success", "merge.Cluster": "success",
        "sync.Staging": "success", "sync.Production": "failed",
        "sync.Ci": "success", "sync.Cluster": "success", "report": "failed",
    }  # fmt: skip
    sm = boto3.client("secretsmanager", endpoint_url=own_servers.aws.url, region_name="us-east-1")
    staging = read_aws(sm, "staging/")
    assert staging["app/db"]["password"] == canaries["legacy-password"]
    assert staging["smtp"] == canaries["smtp"]
    vault = hvac.Client(url=own_servers.vault.url, token=own_servers.vault.token)
    merged = read_vault(vault, "secretsync/merged/Production")
    assert merged["app/db"]["password"] == canaries["legacy-password"]
    assert read_vault(vault, "prod") == {"app/api": {"token": canaries["unowned-token"]}}

    # what the user was told, in the task logs (names only)
    logs = home / "logs" / f"dag_id={dag_id}"
    task_logs = {path.parent.name: path.read_text() for path in logs.rglob("*.log")}
    assert "Step secrets in the environment: DEPLOY_TOKEN" in task_logs["task_id=sync.Production"]
    assert "Step secrets in the environment: LEGACY_API_KEY" in task_logs["task_id=merge.Base"]
    assert "(app/api); set 'adopt: true'" in task_logs["task_id=sync.Production"]
    assert "~ app/db (modified: +host, +port, +user, ~password)" in task_logs["task_id=report"]
    assert "failed targets: Production" in task_logs["task_id=report"]

    # nowhere a value: every log file of the Airflow home, every cell of every table
    assert log_hits(home / "logs", canaries.values()) == []
    db = home / "airflow.db"
    assert database_hits(db, canaries.values()) == []
    probes = ["conf is stored too", example["vault_ref"], "keys_modified", dag_id]
    assert {"dag_run.conf", "serialized_dag.data", "xcom.value", "task_instance.dag_id"} <= set(
        database_hits(db, probes)
    )


def test_cli_output_in_every_format_has_no_value(
    example, canaries, own_servers, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "github_output"))
    printed: list[str] = []
    for output in OUTPUT_FORMATS:  # Production refuses; dry runs show every pending change
        result = secretsync("pipeline", "--config", EXAMPLE, "--output", output, "--dry-run")
        assert result.code == 2
        assert output == "compact" or "app/api" in result.out
        printed += [result.out, result.err]
    assert "Production: FAILED: would overwrite secrets not created by" in printed[0]

    # the secret the tool did not create is removed by its owner: Production can now sync
    vault = hvac.Client(url=own_servers.vault.url, token=own_servers.vault.token)
    vault.secrets.kv.v2.delete_metadata_and_all_versions(mount_point="secret", path="prod/app/api")
    step_secret = f"sync.Production:DEPLOY_TOKEN={example['vault_ref']}"
    for output in OUTPUT_FORMATS:
        result = secretsync(
            "pipeline", "--config", EXAMPLE, "--output", output, "--step-secret", step_secret
        )
        assert result.code == 0
        printed += [result.out, result.err]
    assert read_vault(vault, "prod")["app/api"]["token"] == canaries["api-token"]
    printed.append((tmp_path / "github_output").read_text())
    assert "failed_targets=Production" in printed[-1]
    assert_no_canary(printed, canaries)


def test_errors_on_the_way_name_no_value(example, canaries, own_servers) -> None:
    """Mistakes around secret values: each is one clear error without the value, whole chain
    (causes and contexts) included."""
    ns = example["ns"]
    attempts = [
        lambda: StepSecrets().add_step_secret("sync.Staging", "TOKEN", canaries["deploy-token"]),
        lambda: parse_step_secret_option(f"sync.Staging:TOKEN={canaries['deploy-token']}"),
        lambda: resolve_reference(f"ref+vault://secret/{ns}/ci#/missing"),
        lambda: resolve_reference(f"ref+awssecrets://{ns}/ci-key#/not/json"),
        lambda: resolve_reference(f"ref+awssecrets://{ns}/blob"),
    ]
    messages = []
    for attempt in attempts:
        with pytest.raises(SecretSyncError) as caught:
            attempt()
        messages.append("".join(traceback.format_exception(caught.value, chain=True)))
        messages.append(repr(caught.value))
    assert "missing" in messages[4]
    assert_no_canary(messages, canaries)
