"""The generated rollback DAG (SPEC §10): structure, and `dag.test()` runs that roll back runs of
the pipeline DAG on the real OpenBao and moto servers. Under the real scheduler, through the
REST API: tests/test_airflow_rest.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.helpers import read_aws, read_vault, seed_aws, seed_vault, unique, write_config

CANARY = "canary-0b7e4d29-rollback"

CONFIG = """
version: 1
dag: {{dag_id: {dag_id}, retries: 0, tags: [secrets, test]}}
pipeline:
  sync: {{delete_orphans: true}}
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
    vault: {{mount: secret, path: {ns}/prod}}
"""

PIPELINE_DAG = """
from airflow_secretsync.airflow import build_dag

dag = build_dag({path!r})
"""

ROLLBACK_DAG = """
from airflow_secretsync.airflow import build_rollback_dag

dag = build_rollback_dag({path!r})
"""


@pytest.fixture
def pipeline(tmp_path: Path, servers, vault_client, aws_client) -> dict:
    ns = unique("r")
    dag_id = f"secretsync_{ns}"
    path = write_config(tmp_path, CONFIG.format(dag_id=dag_id, ns=ns))
    seed_vault(vault_client, f"{ns}/src", {"app/db": {"password": CANARY + "-1"}})
    seed_aws(aws_client("secretsmanager"), {f"{ns}/legacy/smtp": {"password": CANARY + "-smtp"}})
    return {"ns": ns, "dag_id": dag_id, "path": path, "sm": aws_client("secretsmanager")}


def test_structure_and_params(pipeline) -> None:
    from airflow_secretsync.airflow import build_rollback_dag

    dag = build_rollback_dag(pipeline["path"])
    assert dag.dag_id == f"{pipeline['dag_id']}_rollback"
    assert list(dag.task_dict) == ["rollback"]
    assert dag.task_dict["rollback"].pipeline_dag_id == pipeline["dag_id"]
    assert dag.task_dict["rollback"].retries == 0
    assert dag.schedule is None
    assert dag.max_active_runs == 1
    assert set(dag.tags) == {"secrets", "test", "rollback"}
    assert dag.params.dump() == {"run_id": None, "dry_run": True, "targets": []}
    targets = dag.params.get_param("targets").schema["items"]["enum"]
    assert targets == ["Staging", "Production"]  # the targets with a destination
    assert dag.fileloc == __file__
    other = build_rollback_dag(pipeline["path"], pipeline_dag_id="renamed")
    assert other.dag_id == "renamed_rollback"
    assert other.task_dict["rollback"].pipeline_dag_id == "renamed"


def xcom(run, task_id: str) -> dict:
    ti = next(ti for ti in run.get_task_instances() if ti.task_id == task_id)
    return ti.xcom_pull(task_ids=task_id)


def asset_events(run) -> list[tuple[str, dict]]:
    """The asset events ``run`` emitted: (asset URI, extra)."""
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        events = session.scalars(
            select(AssetEvent).where(
                AssetEvent.source_dag_id == run.dag_id, AssetEvent.source_run_id == run.run_id
            )
        ).all()
        return [(event.asset.uri, event.extra) for event in events]


def targets_of(report: dict) -> dict[str, dict]:
    return {t["target"]: t for t in report["targets"]}


def test_dry_run_by_default_then_rollback(pipeline, dag_file, vault_client, capsys) -> None:
    from airflow_secretsync.airflow import target_asset

    ns, sm = pipeline["ns"], pipeline["sm"]
    pipeline_dag = PIPELINE_DAG.format(path=str(pipeline["path"]))
    rollback_dag = ROLLBACK_DAG.format(path=str(pipeline["path"]))
    assert dag_file(pipeline["dag_id"], pipeline_dag).test().state == "success"
    before_aws = read_aws(sm, f"{ns}/staging/")
    before_vault = read_vault(vault_client, f"{ns}/prod")
    seed_vault(vault_client, f"{ns}/src", {"app/db": {"password": CANARY + "-2"}})  # modified
    seed_vault(vault_client, f"{ns}/src", {"app/new": {"token": CANARY + "-new"}})  # added
    run = dag_file(pipeline["dag_id"], pipeline_dag).test()
    assert run.state == "success"
    after_aws = read_aws(sm, f"{ns}/staging/")
    assert after_aws["app/db"] == {"password": CANARY + "-2"}
    rollback_id = f"{pipeline['dag_id']}_rollback"

    dry = dag_file(rollback_id, rollback_dag).test(run_conf={"run_id": run.run_id})
    assert dry.state == "success"
    report = xcom(dry, "rollback")
    assert report["dry_run"] is True
    for target in targets_of(report).values():
        assert [(c["path"], c["change_type"]) for c in target["changes"]] == [
            ("app/db", "modified"), ("app/new", "removed"),
        ]  # fmt: skip
        assert "versions" not in target  # nothing was done
    assert read_aws(sm, f"{ns}/staging/") == after_aws

    only = dag_file(rollback_id, rollback_dag).test(
        run_conf={"run_id": run.run_id, "dry_run": False, "targets": ["Staging"]}
    )
    assert only.state == "success"
    assert list(targets_of(xcom(only, "rollback"))) == ["Staging"]
    assert asset_events(only) == [
        (
            target_asset(pipeline["path"], "Staging").uri,
            {"target": "Staging", "added": 0, "modified": 1, "removed": 1,
             "names": ["app/db", "app/new"], "names_omitted": 0},
        )
    ]  # fmt: skip
    assert asset_events(dry) == []
    assert read_aws(sm, f"{ns}/staging/") == before_aws
    assert read_vault(vault_client, f"{ns}/prod")["app/db"] == {"password": CANARY + "-2"}

    rest = dag_file(rollback_id, rollback_dag).test(
        run_conf={"run_id": run.run_id, "dry_run": False}
    )
    assert rest.state == "failed"  # Staging's secrets changed since the run: refused
    report = targets_of(xcom(rest, "rollback"))
    assert report["Production"]["status"] == "success"
    assert report["Production"]["summary"]["modified"] == 1
    assert {r["reason"] for r in report["Staging"]["refused"]} == {
        "it changed since the run",
        "it was deleted since the run",
    }
    assert read_vault(vault_client, f"{ns}/prod") == before_vault
    assert read_aws(sm, f"{ns}/staging/") == before_aws
    assert CANARY not in json.dumps([xcom(dry, "rollback"), xcom(rest, "rollback")])
    out, err = capsys.readouterr()
    assert "secretsync rollback: failed or refused in: Staging" in out  # the logs were read
    assert CANARY not in out + err


def add_running_run(dag_id: str) -> str:
    """A run of ``dag_id`` that has not ended, in the metadata database; its id."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    run_id = unique("still-running-")
    with create_session() as session:
        session.add(
            DagRun(
                dag_id=dag_id,
                run_id=run_id,
                run_type="manual",
                state="running",
                run_after=datetime.now(UTC),
            )
        )
    return run_id


def test_a_run_without_an_applied_change_is_a_clear_failure(
    pipeline, dag_file, vault_client, capsys
) -> None:
    ns, sm = pipeline["ns"], pipeline["sm"]
    dry = dag_file(pipeline["dag_id"], PIPELINE_DAG.format(path=str(pipeline["path"]))).test(
        run_conf={"dry_run": True}
    )
    assert dry.state == "success"
    rollback_dag = ROLLBACK_DAG.format(path=str(pipeline["path"]))
    rollback_id = f"{pipeline['dag_id']}_rollback"
    running = add_running_run(pipeline["dag_id"])
    cases = {
        dry.run_id: "the report records no applied change to roll back",
        "no-such-run": f"there is no run 'no-such-run' of DAG '{pipeline['dag_id']}'",
        running: f"run '{running}' of DAG '{pipeline['dag_id']}' is running: roll it back once",
    }
    for run_id, message in cases.items():
        capsys.readouterr()
        run = dag_file(rollback_id, rollback_dag).test(
            run_conf={"run_id": run_id, "dry_run": False}
        )
        assert run.state == "failed"
        log = capsys.readouterr().out  # the task's log (dag.test() prints it)
        assert f"AirflowFailException: {message}" in log
        assert "; nothing was written" in log
        assert CANARY not in log
    assert read_aws(sm, f"{ns}/staging/") == {}
    assert read_vault(vault_client, f"{ns}/prod") == {}
