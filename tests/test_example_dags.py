"""Every example DAG in ``dags/`` runs green out of the box (`airflow dags test`, as `make demo`
does), against its own OpenBao and moto seeded by ``devtools/seed.py`` as `make airflow` does."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator

import boto3
import hvac
import pytest

from devtools.airflow_home import (
    airflow_home,
    dags_test,
    latest_run_id,
    latest_task_states,
    latest_xcom,
)
from devtools.isolated_servers import isolated_servers
from devtools.paths import REPO
from devtools.seed import (
    GITHUB_REPOSITORY,
    KUBERNETES_NAMESPACE,
    STEP_SECRETS_VAULT,
    seed_example,
)
from tests.helpers import read_aws, read_vault

DAGS = REPO / "dags"


def example_dag_ids() -> list[str]:
    """The ids of every DAG the files in ``dags/`` define."""
    from airflow.sdk import DAG

    ids = []
    for path in sorted(DAGS.glob("*.py")):
        spec = importlib.util.spec_from_file_location(f"example_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        ids += [value.dag_id for value in vars(module).values() if isinstance(value, DAG)]
    return ids


@pytest.fixture(scope="module")
def example_env() -> Iterator[tuple[dict[str, str], object]]:
    with isolated_servers() as servers:
        seed_example(servers)
        with airflow_home(servers) as env:
            yield env, servers


def test_the_examples_are_the_ones_covered_here() -> None:
    assert sorted(example_dag_ids()) == [
        "secretsync_example", "secretsync_example_rollback", "secretsync_example_step_secrets",
        "secretsync_on_rotation", "step_secrets_example",
    ]  # fmt: skip


def test_secretsync_example_dry_run_then_real_run(example_env) -> None:
    env, servers = example_env
    ok, output = dags_test(env, "secretsync_example", '{"dry_run": true}')
    assert ok, output[-3000:]
    report = latest_xcom(env, "secretsync_example", "report")
    assert report is not None, output[-3000:]
    assert report["dry_run"] is True
    assert report["summary"]["added"] == 12
    sm = boto3.client("secretsmanager", endpoint_url=servers.aws.url, region_name="us-east-1")
    assert read_aws(sm, "staging/") == {}

    assert dags_test(env, "secretsync_example")[0]
    assert set(latest_task_states(env, "secretsync_example").values()) == {"success"}
    report = latest_xcom(env, "secretsync_example", "report")
    assert (report["dry_run"], report["summary"]["added"]) == (False, 12)
    assert sorted(read_aws(sm, "staging/")) == ["app/api", "app/db", "smtp"]
    vault = hvac.Client(url=servers.vault.url, token=servers.vault.token)
    assert sorted(read_vault(vault, "prod")) == ["app/api", "app/db", "smtp"]
    github = servers.github.control("GET", f"repos/{GITHUB_REPOSITORY}/secrets")
    assert sorted(github) == ["APP_API", "APP_DB", "SMTP"]
    assert json.loads(github["APP_DB"]["value"])["password"] == "example-legacy-pw"
    cluster = servers.kubernetes.control("GET", f"namespaces/{KUBERNETES_NAMESPACE}/secrets")
    assert sorted(cluster) == ["app.api", "app.db", "smtp"]
    assert cluster["app.db"]["data"]["host"] == "db.internal"
    assert cluster["smtp"]["labels"]["app.kubernetes.io/managed-by"] == "airflow-secretsync"


def test_rollback_example_shows_the_rollback_of_the_last_run(example_env) -> None:
    """Dry run (its default) of rolling back the real run above: what it would delete, and
    nothing written."""
    env, servers = example_env
    run_id = latest_run_id(env, "secretsync_example")
    conf = {"run_id": run_id, "targets": ["Staging", "Production"]}
    ok, output = dags_test(env, "secretsync_example_rollback", json.dumps(conf))
    assert ok, output[-3000:]
    report = latest_xcom(env, "secretsync_example_rollback", "rollback")
    assert report["dry_run"] is True
    assert {t["target"]: t["summary"]["removed"] for t in report["targets"]} == {
        "Staging": 3, "Production": 3,
    }  # fmt: skip
    sm = boto3.client("secretsmanager", endpoint_url=servers.aws.url, region_name="us-east-1")
    assert sorted(read_aws(sm, "staging/")) == ["app/api", "app/db", "smtp"]


def test_step_secrets_example(example_env) -> None:
    env, _ = example_env
    ok, output = dags_test(env, "step_secrets_example")
    assert ok, output[-3000:]
    assert latest_task_states(env, "step_secrets_example") == {
        "publish_report": "success", "deploy": "success", "audit": "success",
    }  # fmt: skip
    published = latest_xcom(env, "step_secrets_example", "publish_report")
    assert published == "report published with 1 auth header"
    assert "deploy key present" in output
    assert "none here" in output
    assert STEP_SECRETS_VAULT["examples/reporting"]["token"] not in output


def test_pipeline_with_step_secrets_example(example_env) -> None:
    env, servers = example_env
    dag_id = "secretsync_example_step_secrets"
    assert dags_test(env, dag_id)[0]
    assert set(latest_task_states(env, dag_id).values()) == {"success"}
    report = latest_xcom(env, dag_id, "report")
    assert {t["target"]: t["status"] for t in report["targets"]} == {
        "Staging": "success", "Production": "success", "Ci": "success", "Cluster": "success",
    }  # fmt: skip
    sm = boto3.client("secretsmanager", endpoint_url=servers.aws.url, region_name="us-east-1")
    assert sorted(read_aws(sm, "staging/")) == ["app/api", "app/db", "smtp"]


def test_rotation_example_runs_without_triggering_events(example_env) -> None:
    """Triggered by hand it has no asset event to read: it lists nothing (the asset-triggered
    runs are tested under the scheduler in tests/test_airflow_rest.py)."""
    env, _ = example_env
    ok, output = dags_test(env, "secretsync_on_rotation")
    assert ok, output[-3000:]
    assert latest_xcom(env, "secretsync_on_rotation", "rotated_secrets") == []
