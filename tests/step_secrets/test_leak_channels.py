"""Step secret values that Airflow's masker alone would let through, in real worker processes:
each line of a multi-line value (a PEM key echoed by bash), each field of a JSON value printed by
a ``@task``, and a value in a task's return value (which becomes an XCom, never masked)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.helpers import seed_vault, unique
from tests.step_secrets.scan import database_hits, log_hits

DAG_SOURCE = """
import json
import os

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG, task

from airflow_secretsync.airflow import attach_step_secrets, with_step_secrets

with DAG({dag_id!r}, schedule=None) as dag:
    pem = attach_step_secrets(
        BashOperator(task_id="pem", bash_command='echo "$PEM"; echo done'), PEM={pem_ref!r}
    )
    deploy = attach_step_secrets(
        BashOperator(task_id="deploy", bash_command='echo "deploying with $TOK"'), TOK={tok_ref!r}
    )

    @with_step_secrets(CONFIG={json_ref!r})
    @task
    def fields():
        data = json.loads(os.environ["CONFIG"])
        print("user is", data["user"])
        print("token is", data["nested"]["token"])
        for line in data["nested"]["key"].splitlines():
            print("key line", line)
        return {{"greeting": "hi " + data["user"], "items": [data["nested"]["token"], 1]}}

    pem >> deploy >> fields()
"""


def xcom_values(db: Path, dag_id: str) -> dict[str, object]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT task_id, value FROM xcom WHERE dag_id = ? AND key = 'return_value'", (dag_id,)
        ).fetchall()
    return {task_id: json.loads(value) for task_id, value in rows}


def test_lines_json_fields_and_return_values_do_not_leak(
    dag_file, worker_runs, vault_client, airflow_db: Path
) -> None:
    ns = unique("chan")
    c = {name: f"canary-{name}-{unique()}" for name in ("pem1", "pem2", "tok", "user", "token",
                                                        "key1", "key2", "whole")}  # fmt: skip
    pem = f"-----BEGIN TEST KEY-----\n{c['pem1']}\n{c['pem2']}\n-----END TEST KEY-----"
    config = {
        "user": c["user"],
        "port": 5432,
        "nested": {"token": c["token"], "key": f"{c['key1']}\n{c['key2']}"},
        "note": c["whole"],
    }
    seed_vault(
        vault_client,
        ns,
        {"pem": {"value": pem}, "tok": {"value": c["tok"]}, "config": config},
    )
    dag = dag_file(
        ns,
        DAG_SOURCE.format(
            dag_id=ns,
            pem_ref=f"ref+vault://secret/{ns}/pem#/value",
            tok_ref=f"ref+vault://secret/{ns}/tok#/value",
            json_ref=f"ref+vault://secret/{ns}/config",
        ),
    )

    run = dag.test()

    assert {ti.task_id: str(ti.state) for ti in run.get_task_instances()} == {
        "pem": "success", "deploy": "success", "fields": "success",
    }  # fmt: skip
    logs = airflow_db / "logs" / f"dag_id={ns}"
    task_logs = {path.parent.name: path.read_text() for path in logs.rglob("*.log")}
    assert "deploying with ***" in task_logs["task_id=deploy"]
    assert "held a step secret value; replaced by *** in XCom" in task_logs["task_id=deploy"]
    assert "user is ***" in task_logs["task_id=fields"]
    assert "key line ***" in task_logs["task_id=fields"]
    assert log_hits(airflow_db / "logs", c.values()) == []
    assert database_hits(airflow_db / "airflow.db", c.values()) == []
    assert xcom_values(airflow_db / "airflow.db", ns) == {
        "pem": "done",
        "deploy": "deploying with ***",
        "fields": {"greeting": "hi ***", "items": ["***", 1]},
    }
