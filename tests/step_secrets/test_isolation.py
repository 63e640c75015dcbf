"""One DAG run, three tasks, real worker processes: each task sees exactly its own step secrets,
and no secret value reaches Airflow's database or task logs (SPEC §7)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.helpers import seed_vault, unique
from tests.step_secrets.scan import database_hits, log_hits

DAG_SOURCE = """
import json
import os

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG, task

from airflow_secretsync.airflow import attach_step_secrets, with_step_secrets

OUT = {out!r}

with DAG({dag_id!r}, schedule=None) as dag:

    @with_step_secrets(SS_A_VALUE={ref_a!r}, SS_FROM_ENV={ref_env!r})
    @task
    def task_a():
        print("task_a got", os.environ["SS_A_VALUE"])  # masked in the log
        with open(f"{{OUT}}/a.json", "w") as f:
            json.dump(dict(os.environ), f)

    task_b = attach_step_secrets(
        BashOperator(task_id="task_b", bash_command=f"env > {{OUT}}/b.env"),
        SS_B_VALUE={ref_b!r},
    )

    @task
    def task_c():
        with open(f"{{OUT}}/c.json", "w") as f:
            json.dump(dict(os.environ), f)
        return "task_c is done"

    task_a() >> task_b >> task_c()
"""


def bash_env(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def test_each_task_sees_only_its_own_secrets(
    tmp_path: Path, dag_file, worker_runs, vault_client, airflow_db: Path, monkeypatch
) -> None:
    ns = unique("iso")
    canary_a, canary_b, canary_env = (f"canary-{part}-{unique()}" for part in ("a", "b", "env"))
    seed_vault(vault_client, ns, {"a": {"value": canary_a}, "b": {"value": canary_b}})
    source_var = f"SS_SOURCE_{ns.upper()}"
    monkeypatch.setenv(source_var, canary_env)
    dag = dag_file(
        ns,
        DAG_SOURCE.format(
            out=str(tmp_path),
            dag_id=ns,
            ref_a=f"ref+vault://secret/{ns}/a#/value",
            ref_b=f"ref+vault://secret/{ns}/b#/value",
            ref_env=f"ref+env://{source_var}",
        ),
    )

    run = dag.test(run_conf={"note": "only references are stored"})

    assert run.state == "success"
    env_a = json.loads((tmp_path / "a.json").read_text())
    env_b = bash_env(tmp_path / "b.env")  # the BashOperator's subprocess
    env_c = json.loads((tmp_path / "c.json").read_text())
    step_names = {"SS_A_VALUE", "SS_FROM_ENV", "SS_B_VALUE"}
    assert {n: env_a.get(n) for n in step_names} == {
        "SS_A_VALUE": canary_a, "SS_FROM_ENV": canary_env, "SS_B_VALUE": None,
    }  # fmt: skip
    assert {n: env_b.get(n) for n in step_names} == {
        "SS_A_VALUE": None, "SS_FROM_ENV": None, "SS_B_VALUE": canary_b,
    }  # fmt: skip
    assert step_names.isdisjoint(env_c)
    for env, own in ((env_a, {canary_a, canary_env}), (env_b, {canary_b}), (env_c, set())):
        others = {canary_a, canary_b} - own
        assert not any(value in others for value in env.values())
    # each task ran in its own worker process; the test process never had the variables
    assert step_names.isdisjoint(os.environ)

    canaries = [canary_a, canary_b, canary_env]
    db = airflow_db / "airflow.db"
    assert database_hits(db, canaries) == []
    # the scan does read conf, rendered fields, the serialized DAG and XCom values
    probes = ["only references are stored", "b.env", "task_c is done"]
    assert {
        "dag_run.conf", "rendered_task_instance_fields.rendered_fields",
        "serialized_dag.data", "xcom.value",
    } <= set(database_hits(db, probes))  # fmt: skip
    logs = airflow_db / "logs" / f"dag_id={ns}"
    task_logs = {path.parent.name: path.read_text() for path in logs.rglob("*.log")}
    assert set(task_logs) == {"task_id=task_a", "task_id=task_b", "task_id=task_c"}
    assert "task_a got ***" in task_logs["task_id=task_a"]
    assert "Step secrets in the environment: SS_A_VALUE, SS_FROM_ENV" in task_logs["task_id=task_a"]
    assert log_hits(airflow_db / "logs", canaries) == []
