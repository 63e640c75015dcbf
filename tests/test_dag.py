"""Generated DAGs: structure, params, and `dag.test()` runs against the real servers (SPEC §6)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_secretsync.airflow.step_secrets import STEP_SECRETS_ATTR
from airflow_secretsync.errors import ConfigError
from tests.helpers import read_aws, read_vault, seed_aws, seed_vault, unique, write_config

CANARY = "canary-5be2c1d4-dag"

CONFIG = """
version: 1
dag: {{dag_id: {dag_id}, retries: 0, tags: [secrets, test]}}
merge_store:
  vault: {{mount: secret, path: {ns}/merged}}
sources:
  platform: {{vault: {{mount: secret, path: {ns}/src}}}}
  legacy: {{aws: {{prefix: {ns}/legacy/}}}}
targets:
  Base: [platform]
  Staging:
    inherits: Base
    imports: [legacy]
    aws: {{prefix: {ns}/staging/}}
  Production:
    inherits: Staging
    vault: {{mount: secret, path: {ns}/prod{prod_conn}}}
"""

DAG_SOURCE = """
from airflow_secretsync.airflow import build_dag

dag = build_dag({path!r})
"""


def make_config(tmp_path: Path, prod_conn: str = "") -> tuple[str, str, Path]:
    ns = unique("d")
    dag_id = f"secretsync_{ns}"
    path = write_config(tmp_path, CONFIG.format(dag_id=dag_id, ns=ns, prod_conn=prod_conn))
    return ns, dag_id, path


def test_structure_and_params(tmp_path: Path) -> None:
    from airflow_secretsync.airflow import build_dag

    _, dag_id, path = make_config(tmp_path)
    dag = build_dag(path)
    assert dag.dag_id == dag_id
    assert dag.max_active_runs == 1
    assert set(dag.task_dict) == {
        "merge.Base", "merge.Staging", "merge.Production",
        "sync.Staging", "sync.Production", "report",
    }  # fmt: skip
    assert dag.task_dict["merge.Staging"].upstream_task_ids == {"merge.Base"}
    assert dag.task_dict["merge.Production"].upstream_task_ids == {"merge.Staging"}
    assert dag.task_dict["sync.Production"].upstream_task_ids == {"merge.Production"}
    assert dag.task_dict["report"].trigger_rule == "all_done"
    params = dag.params.dump()
    assert params == {"dry_run": False, "targets": [], "mode": "full", "fail_on_changes": False}
    schema = dag.params.get_param("targets").schema
    assert schema["items"]["enum"] == ["Base", "Staging", "Production"]
    assert dag.fileloc == __file__  # the DAG file, not the builder
    # task ids are stable across parses
    assert list(build_dag(path).task_dict) == list(dag.task_dict)


def test_params_are_serialized_once_with_the_dag_not_with_each_task(tmp_path: Path) -> None:
    from airflow.serialization.serialized_objects import DagSerialization

    from airflow_secretsync.airflow import build_dag

    _, _, path = make_config(tmp_path)
    serialized = DagSerialization.to_dict(build_dag(path))["dag"]
    assert [name for name, _ in serialized["params"]] == [
        "dry_run", "targets", "mode", "fail_on_changes",
    ]  # fmt: skip
    assert len(serialized["tasks"]) == 6
    assert all("params" not in task["__var"] for task in serialized["tasks"])


@pytest.mark.parametrize("task_id", ["merge.Staging", "sync.Production", "report"])
def test_a_task_process_builds_only_its_own_task(tmp_path: Path, task_id: str) -> None:
    from airflow.sdk.definitions._internal.dag_parsing_context import (
        _airflow_parsing_context_manager,
    )

    from airflow_secretsync.airflow import build_dag

    _, dag_id, path = make_config(tmp_path)
    step = "ref+env://SECRETSYNC_TEST_TOKEN"
    text = path.read_text() + f"step_secrets:\n  {task_id}: {{TOKEN: '{step}'}}\n"
    path.write_text(text)
    full = build_dag(path)
    with _airflow_parsing_context_manager(dag_id=dag_id, task_id=task_id):
        alone = build_dag(path)
    with _airflow_parsing_context_manager(dag_id="another_dag", task_id=task_id):
        assert len(build_dag(path).tasks) == 6
    assert list(alone.task_dict) == [task_id]
    task, twin = alone.task_dict[task_id], full.task_dict[task_id]
    assert (type(task), task.trigger_rule) == (type(twin), twin.trigger_rule)
    assert getattr(task, STEP_SECRETS_ATTR) == getattr(twin, STEP_SECRETS_ATTR) == {"TOKEN": step}
    assert getattr(task, "sync_task_ids", None) == getattr(twin, "sync_task_ids", None)
    assert alone.params.dump() == full.params.dump()
    assert full.doc_md  # the docs panel is the DAG processor's business
    assert not alone.doc_md


def test_broken_config_is_one_clear_import_error(tmp_path: Path) -> None:
    from airflow_secretsync.airflow import build_dag

    path = write_config(tmp_path, "version: 1\ntargets:\n  Staging:\n    imports: [nope]\n")
    with pytest.raises(ConfigError) as exc:
        build_dag(path)
    assert f"{path}:4" in str(exc.value) or "pipeline.yaml:4" in str(exc.value)
    assert "targets.Staging.imports[0]" in str(exc.value)


@pytest.fixture
def seeded(servers, vault_client, aws_client):
    def seed(ns: str) -> None:
        seed_vault(vault_client, f"{ns}/src", {"app/db": {"password": CANARY, "port": 1}})
        seed_aws(aws_client("secretsmanager"), {f"{ns}/legacy/app/db": {"port": 2}})

    return seed


def states(run) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


def report_xcom(run) -> dict:
    ti = next(ti for ti in run.get_task_instances() if ti.task_id == "report")
    return ti.xcom_pull(task_ids="report")


def test_runs_apply_then_zero_sum(tmp_path, dag_file, seeded, vault_client, aws_client) -> None:
    ns, dag_id, path = make_config(tmp_path)
    seeded(ns)
    source = DAG_SOURCE.format(path=str(path))

    # a fresh parse for every run, as a worker does (in-process runs share param objects)
    dry = dag_file(dag_id, source).test(run_conf={"dry_run": True})
    assert dry.state == "success"
    assert report_xcom(dry)["summary"]["added"] == 2
    assert read_aws(aws_client("secretsmanager"), f"{ns}/staging/") == {}
    assert read_vault(vault_client, f"{ns}/merged") == {}

    first = dag_file(dag_id, source).test()
    assert first.state == "success"
    assert set(states(first).values()) == {"success"}
    assert report_xcom(first)["summary"]["added"] == 2
    expected = {"app/db": {"password": CANARY, "port": 2}}
    assert read_aws(aws_client("secretsmanager"), f"{ns}/staging/") == expected
    assert read_vault(vault_client, f"{ns}/prod") == expected

    second = dag_file(dag_id, source).test(run_conf={"fail_on_changes": True})
    assert second.state == "success"
    report = report_xcom(second)
    assert report["summary"] == {
        "added": 0,
        "removed": 0,
        "modified": 0,
        "unchanged": 2,
        "total": 2,
    }
    assert CANARY not in json.dumps(report)


def test_targets_param_selects(tmp_path, dag_file, seeded, vault_client, aws_client) -> None:
    ns, dag_id, path = make_config(tmp_path)
    seeded(ns)
    dag = dag_file(dag_id, DAG_SOURCE.format(path=str(path)))
    run = dag.test(run_conf={"targets": ["Staging"]})
    assert run.state == "success"
    assert states(run) == {
        "merge.Base": "success", "merge.Staging": "success", "merge.Production": "skipped",
        "sync.Staging": "success", "sync.Production": "skipped", "report": "success",
    }  # fmt: skip
    report = report_xcom(run)
    assert {t["target"]: t["status"] for t in report["targets"]} == {
        "Staging": "success",
        "Production": "skipped",
    }
    assert read_vault(vault_client, f"{ns}/prod") == {}


def test_failing_target_fails_report_not_siblings(
    tmp_path, dag_file, seeded, aws_client, monkeypatch
) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_VAULT_BROKEN",
        json.dumps({"conn_type": "vault", "host": "127.0.0.1", "port": 9, "password": "x"}),
    )
    ns, dag_id, path = make_config(tmp_path, prod_conn=", connection_id: vault_broken")
    seeded(ns)
    dag = dag_file(dag_id, DAG_SOURCE.format(path=str(path)))
    run = dag.test()
    assert run.state == "failed"
    result = states(run)
    assert result["sync.Staging"] == "success"
    assert result["sync.Production"] == "failed"
    assert result["report"] == "failed"
    assert read_aws(aws_client("secretsmanager"), f"{ns}/staging/") == {
        "app/db": {"password": CANARY, "port": 2}
    }
    report = report_xcom(run)  # pushed although the report failed: a rollback reads it
    assert {t["target"]: t["status"] for t in report["targets"]} == {
        "Staging": "success",
        "Production": "failed",
    }
    assert [v["path"] for v in report["targets"][0]["versions"]] == ["app/db"]


TASK_GROUP_DAG = """
from airflow.sdk import DAG
from airflow_secretsync.airflow import SecretSyncTaskGroup

with DAG(dag_id={dag_id!r}, schedule=None) as dag:  # no dry_run param
    SecretSyncTaskGroup({path!r})
"""


def test_task_group_config_dry_run_is_reported_and_writes_nothing(
    tmp_path, dag_file, seeded, vault_client, aws_client
) -> None:
    """Every task, the report included, takes ``pipeline.dry_run`` from the config when the
    enclosing DAG has no ``dry_run`` param."""
    ns = unique("g")
    dag_id = f"task_group_{ns}"
    text = CONFIG.format(dag_id=dag_id, ns=ns, prod_conn="") + "pipeline: {dry_run: true}\n"
    path = write_config(tmp_path, text)
    seeded(ns)

    run = dag_file(dag_id, TASK_GROUP_DAG.format(dag_id=dag_id, path=str(path))).test()

    assert run.state == "success"
    assert set(states(run).values()) == {"success"}
    report = next(t for t in run.get_task_instances() if t.task_id == "secretsync.report")
    data = report.xcom_pull(task_ids="secretsync.report")
    assert data["dry_run"] is True
    assert data["summary"]["added"] == 2
    assert {t["target"]: t["status"] for t in data["targets"]} == {
        "Staging": "success",
        "Production": "success",
    }
    assert read_aws(aws_client("secretsmanager"), f"{ns}/staging/") == {}
    assert read_vault(vault_client, f"{ns}/prod") == {}
    assert read_vault(vault_client, f"{ns}/merged") == {}


def rendered(run, task_id: str) -> dict:
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.utils.session import create_session

    ti = next(ti for ti in run.get_task_instances() if ti.task_id == task_id)
    with create_session() as session:
        return RenderedTaskInstanceFields.get_templated_fields(ti, session=session)


def test_dry_run_shows_in_rendered_fields_and_docs(tmp_path, dag_file, seeded) -> None:
    ns, dag_id, path = make_config(tmp_path)
    seeded(ns)
    dag = dag_file(dag_id, DAG_SOURCE.format(path=str(path)))
    assert dag.description == "Secret sync from pipeline.yaml: 2 sources -> 2 destinations"
    assert f"| Staging | Base | legacy | AWS Secrets Manager {ns}/staging/*" in dag.doc_md
    assert "```yaml\n\nversion: 1\n" in dag.doc_md
    run = dag.test(run_conf={"dry_run": True, "targets": ["Staging"]})
    assert run.state == "success"
    report = rendered(run, "report")
    assert report["run_settings"] == (
        "DRY RUN: reads and diffs, writes nothing; mode full; targets Staging"
    )
    assert report["summary"].startswith("DRY RUN: nothing was written\n")
    assert report["summary"].endswith("Changes: 1 pending")
    sync = rendered(run, "sync.Staging")
    assert "Staging: 1 added" in sync["summary"]
    assert rendered(run, "merge.Staging")["summary"] == "Staging: would merge 1 secret"
    assert CANARY not in json.dumps([report, sync])
