"""The package on a real CeleryExecutor cluster: Postgres, Redis, two Celery workers.

Not part of the default selection (``-m cluster``; ``make test-cluster``, run by ``.ci/run``):
it needs Debian's ``postgresql`` and ``redis-server``, which that target installs.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import hvac
import pytest

from devtools.cluster import WORKERS, Cluster, celery_cluster
from devtools.proxy import FaultProxy, Request
from devtools.seed import PLATFORM
from devtools.servers import MotoServer
from tests.helpers import read_aws, read_vault
from tests.test_airflow_rest import CANARIES, Api

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(600)]

EXAMPLE = "secretsync_example"
SLOW = "secretsync_slow"
ROTATED = "rotated-canary-token-2"  # a new source value: a canary as well
AWS_DELAY_SECONDS = 1.5  # per AWS call of the slow DAG: its sync runs for several seconds
SLOW_CONFIG = """\
version: 1
dag: {dag_id: secretsync_slow, retries: 2, retry_delay_seconds: 1}
pipeline: {sync: {parallel: 1}}   # one write at a time: the kill lands between two of them
merge_store: {vault: {mount: secret, path: secretsync/slow-merged}}
sources:
  platform: {vault: {mount: secret, path: sources/platform}}
targets:
  Slow:
    imports: [platform]
    aws: {prefix: slow/, connection_id: aws_slow}
"""
SLOW_DAG = """\
from pathlib import Path
from airflow_secretsync.airflow import build_dag
dag = build_dag(Path(__file__).parent / "slow.yaml")
"""


class SlowAws(FaultProxy):
    """moto behind a delay; counts the secrets created through it."""

    def __init__(self) -> None:
        super().__init__("http://127.0.0.1:1", intercept=self._delay, observe=self._observe)
        self.created = threading.Event()

    def _delay(self, request: Request) -> None:
        time.sleep(AWS_DELAY_SECONDS)

    def _observe(self, request: Request, status: int) -> None:
        if "CreateSecret" in request.headers.get("X-Amz-Target", "") and status == 200:
            self.created.set()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[tuple[Cluster, Api, SlowAws]]:
    dags = tmp_path_factory.mktemp("cluster_dags")
    (dags / "slow.yaml").write_text(SLOW_CONFIG)
    (dags / "slow_dag.py").write_text(SLOW_DAG)
    with SlowAws() as slow:
        aws_slow = MotoServer(url=slow.url, port=slow.port, server=None).connection_uri()
        with celery_cluster(
            port=None,
            concurrency=1,  # one task per worker: parallel tasks land on both workers
            extra_dags=dags,
            extra_env={
                "AIRFLOW_CONN_AWS_SLOW": aws_slow,
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
            },
        ) as running:
            slow.upstream = ("127.0.0.1", running.servers.aws.port)
            api = Api(running.url, running.username, running.password)
            for dag_id in (EXAMPLE, SLOW):
                api.wait_for(f"/api/v2/dags/{dag_id}", lambda d: not d.get("has_import_errors"))
                api.call("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
            yield running, api, slow


def trigger(api: Api, dag_id: str, conf: dict[str, Any]) -> str:
    run = api.call("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf})
    return run["dag_run_id"]


def finished(api: Api, dag_id: str, run_id: str) -> dict[str, Any]:
    return api.wait_for(
        f"/api/v2/dags/{dag_id}/dagRuns/{run_id}",
        lambda r: r["state"] in ("success", "failed"),
        timeout=240,
    )


def task_instances(api: Api, dag_id: str, run_id: str) -> list[dict[str, Any]]:
    path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances"
    return api.call("GET", path)["task_instances"]


def report_of(api: Api, dag_id: str, run_id: str) -> dict[str, Any]:
    path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/report/xcomEntries/return_value"
    value = api.call("GET", path)["value"]
    return json.loads(value) if isinstance(value, str) else value


def clients(cluster: Cluster) -> tuple[Any, hvac.Client]:
    aws = cluster.servers.aws
    sm = boto3.client("secretsmanager", endpoint_url=aws.url, region_name="us-east-1")
    return sm, hvac.Client(url=cluster.servers.vault.url, token=cluster.servers.vault.token)


def test_one_run_uses_both_workers_and_syncs_every_destination(cluster) -> None:
    running, api, _ = cluster
    run_id = trigger(api, EXAMPLE, {})
    assert finished(api, EXAMPLE, run_id)["state"] == "success"
    executed = [ti for ti in task_instances(api, EXAMPLE, run_id) if ti["state"] == "success"]
    assert len(executed) == 10  # merge and sync of four destinations, merge.Base, report
    assert {ti["hostname"] for ti in executed} == set(WORKERS)
    sm, vault = clients(running)
    staging = read_aws(sm, "staging/")
    assert staging["app/db"]["password"] == "example-legacy-pw"
    assert staging["smtp"] == "plain-text-smtp-password"
    assert "tmp/scratch" not in staging
    assert read_vault(vault, "prod")["app/api"]["token"] == PLATFORM["app/api"]["token"]
    report = report_of(api, EXAMPLE, run_id)
    assert {t["target"]: t["status"] for t in report["targets"]} == {
        "Staging": "success",
        "Production": "success",
        "Ci": "success",
        "Cluster": "success",
    }
    assert report["summary"]["added"] == 12  # three secrets in each of the four destinations
    assert len(staging) + len(read_vault(vault, "prod")) == 6


def test_two_runs_at_once_with_different_params_both_end_right(cluster) -> None:
    running, api, _ = cluster
    sm, vault = clients(running)
    vault.secrets.kv.v2.create_or_update_secret(
        mount_point="secret",
        path="sources/platform/app/api",
        secret={**PLATFORM["app/api"], "token": ROTATED},
    )
    sync_staging = trigger(api, EXAMPLE, {"targets": ["Staging"]})
    preview_production = trigger(api, EXAMPLE, {"targets": ["Production"], "dry_run": True})
    assert finished(api, EXAMPLE, sync_staging)["state"] == "success"
    assert finished(api, EXAMPLE, preview_production)["state"] == "success"
    staged = report_of(api, EXAMPLE, sync_staging)
    assert staged["dry_run"] is False
    assert [(t["target"], t["summary"]["modified"]) for t in staged["targets"]] == [
        ("Staging", 1),
        ("Production", 0),
        ("Ci", 0),
        ("Cluster", 0),
    ]
    previewed = report_of(api, EXAMPLE, preview_production)
    assert previewed["dry_run"] is True
    assert previewed["summary"]["modified"] == 1
    assert read_aws(sm, "staging/")["app/api"]["token"] == ROTATED
    assert read_vault(vault, "prod")["app/api"]["token"] == PLATFORM["app/api"]["token"]


def test_a_worker_killed_mid_sync_the_other_retries_and_the_run_converges(cluster) -> None:
    running, api, slow = cluster
    run_id = trigger(api, SLOW, {})
    assert slow.created.wait(180), "the slow sync never wrote"
    sync = next(ti for ti in task_instances(api, SLOW, run_id) if ti["task_id"] == "sync.Slow")
    assert sync["state"] == "running"
    victim = sync["hostname"]
    assert running.kill_worker(victim) >= 3  # worker, its pool, the task's processes
    assert finished(api, SLOW, run_id)["state"] == "success"
    path = f"/api/v2/dags/{SLOW}/dagRuns/{run_id}/taskInstances/sync.Slow/tries"
    tries = api.call("GET", path)["task_instances"]
    assert [(t["try_number"], t["hostname"]) for t in tries] == [
        (1, victim),
        (2, next(w for w in WORKERS if w != victim)),
    ]
    sm, vault = clients(running)
    sources = read_vault(vault, "sources/platform")
    assert read_aws(sm, "slow/") == sources  # every secret once, with its current value
    report = report_of(api, SLOW, run_id)
    summary = report["targets"][0]["summary"]
    assert 0 < summary["unchanged"] < len(sources)  # the killed try had written some
    assert summary["added"] + summary["unchanged"] == len(sources)


def test_no_canary_in_any_postgres_table_or_log(cluster) -> None:
    import psycopg2
    from psycopg2 import sql

    running, _, _ = cluster
    pg = running.postgres
    connection = psycopg2.connect(
        host="127.0.0.1", port=pg.port, user="airflow", password=pg.password, dbname="airflow"
    )
    dumped: list[str] = []
    with connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
        )
        tables = cursor.fetchall()
        for schema, table in tables:
            cursor.execute(
                sql.SQL("SELECT t::text FROM {}.{} t").format(
                    sql.Identifier(schema), sql.Identifier(table)
                )
            )
            dumped.extend(row[0] for row in cursor.fetchall())
    connection.close()
    assert len(tables) > 50
    logs = running.logs()
    text = "\n".join(dumped) + "\n".join(p.read_text(errors="replace") for p in logs)
    assert "synced Staging" in text  # task logs were really read
    assert any("sync.Slow" in str(p) for p in logs)
    for canary in [*CANARIES, ROTATED]:
        assert canary not in text
