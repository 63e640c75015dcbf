"""The example DAG under real Airflow processes, triggered through the REST API with a conf."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from typing import Any

import boto3
import hvac
import pytest

from devtools.seed import PLATFORM
from tests.helpers import read_aws, read_vault

DAG_ID = "secretsync_example"
# every seeded source value is a canary: none may show up in XCom, rendered fields or logs
CANARIES = [
    v for value in PLATFORM.values() for v in value.values() if isinstance(v, str) and len(v) > 8
] + ["example-legacy-pw", "plain-text-smtp-password"]


class Api:
    def __init__(self, url: str, username: str, password: str) -> None:
        self.url = url
        token = self.call("POST", "/auth/token", {"username": username, "password": password})
        self.headers = {"Authorization": f"Bearer {token['access_token']}"}

    def call(self, method: str, path: str, body: Any = None, raw: bool = False) -> Any:
        request = urllib.request.Request(
            f"{self.url}{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Content-Type": "application/json", **getattr(self, "headers", {})},
        )
        with urllib.request.urlopen(request, timeout=30) as resp:
            text = resp.read().decode()
        return text if raw else json.loads(text)

    def wait_for(self, path: str, done, timeout: float = 300) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                result = self.call("GET", path)
                if done(result):
                    return result
            except urllib.error.HTTPError as exc:
                if exc.code != 404:
                    raise
            time.sleep(2)
        raise AssertionError(f"timed out waiting for {path}")


def trigger(api: Api, conf: dict[str, Any]) -> dict[str, Any]:
    run = api.call("POST", f"/api/v2/dags/{DAG_ID}/dagRuns", {"logical_date": None, "conf": conf})
    return api.wait_for(
        f"/api/v2/dags/{DAG_ID}/dagRuns/{run['dag_run_id']}",
        lambda r: r["state"] in ("success", "failed"),
    )


@pytest.fixture(scope="module")
def api(airflow_standalone) -> Api:
    api = Api(airflow_standalone.url, airflow_standalone.username, airflow_standalone.password)
    api.wait_for(f"/api/v2/dags/{DAG_ID}", lambda dag: not dag.get("has_import_errors"))
    return api


@pytest.fixture(scope="module")
def triggered(api):
    return api, trigger(api, {"targets": ["Staging"]})


def task_instances(api: Api, run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    path = f"/api/v2/dags/{DAG_ID}/dagRuns/{run['dag_run_id']}/taskInstances"
    return {ti["task_id"]: ti for ti in api.call("GET", path)["task_instances"]}


def test_a_dry_run_and_its_summary_show_without_opening_logs(api, triggered) -> None:
    _, real = triggered  # runs first: the dry run then has nothing left to add to Staging
    dry = trigger(api, {"dry_run": True})
    assert dry["state"] == "success"
    report = task_instances(api, dry)["report"]["rendered_fields"]
    assert (
        report["run_settings"] == "DRY RUN: reads and diffs, writes nothing; mode full; targets all"
    )
    summary = report["summary"].splitlines()
    assert summary[0] == "DRY RUN: nothing was written"
    assert summary[-1] == "Changes: 3 pending"  # Production's three; Staging is in sync
    assert "Production: 3 added" in report["summary"]
    sync = task_instances(api, real)["sync.Staging"]["rendered_fields"]
    assert sync["run_settings"] == "writes changes; mode full; targets Staging"
    assert sync["summary"].startswith("Sync applied\n\nStaging: 3 added")
    base = f"/api/v2/dags/{DAG_ID}/dagRuns/{dry['dag_run_id']}/taskInstances/report"
    log = api.call("GET", f"{base}/logs/1?full_content=true", raw=True)
    assert "secretsync (dry run): 2 targets, +3 ~0 -0 =3 (6 total), 0 failed" in log
    xcom = api.call("GET", f"{base}/xcomEntries/return_value")["value"]
    assert (json.loads(xcom) if isinstance(xcom, str) else xcom)["dry_run"] is True


def test_the_dag_describes_itself(api) -> None:
    dag = api.call("GET", f"/api/v2/dags/{DAG_ID}/details")
    assert dag["description"] == "Secret sync from example.yaml: 2 sources -> 4 destinations"
    assert "| Staging | Base | legacy | AWS Secrets Manager staging/*" in dag["doc_md"]
    assert "```yaml" in dag["doc_md"]


def test_every_airflow_process_listens_on_loopback_only(airflow_standalone, api) -> None:
    import psutil

    def in_group(process: psutil.Process) -> bool:
        try:
            return os.getpgid(process.pid) == airflow_standalone.process_group
        except ProcessLookupError:  # ended meanwhile
            return False

    group = [p.pid for p in psutil.process_iter() if in_group(p)]
    listening = [
        c.laddr.ip
        for c in psutil.net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN and c.pid in group
    ]
    assert listening  # the API server at least
    assert set(listening) == {"127.0.0.1"}


def test_run_succeeds_and_syncs_only_the_selected_target(triggered, airflow_standalone) -> None:
    _, run = triggered
    assert run["state"] == "success"
    assert run["conf"] == {"targets": ["Staging"]}
    servers = airflow_standalone.servers
    sm = boto3.client("secretsmanager", endpoint_url=servers.aws.url, region_name="us-east-1")
    staging = read_aws(sm, "staging/")
    assert staging["app/db"]["password"] == "example-legacy-pw"
    assert staging["smtp"] == "plain-text-smtp-password"
    assert "tmp/scratch" not in staging
    vault = hvac.Client(url=servers.vault.url, token=servers.vault.token)
    assert read_vault(vault, "prod") == {}  # Production was not selected


def test_report_xcom_and_task_states(triggered) -> None:
    api, run = triggered
    base = f"/api/v2/dags/{DAG_ID}/dagRuns/{run['dag_run_id']}"
    states = {
        ti["task_id"]: ti["state"]
        for ti in api.call("GET", f"{base}/taskInstances")["task_instances"]
    }
    assert states == {
        "merge.Base": "success", "merge.Staging": "success", "merge.Production": "skipped",
        "sync.Staging": "success", "sync.Production": "skipped", "report": "success",
    }  # fmt: skip
    report = api.call("GET", f"{base}/taskInstances/report/xcomEntries/return_value")["value"]
    report = json.loads(report) if isinstance(report, str) else report
    assert report["dry_run"] is False
    assert {t["target"]: t["status"] for t in report["targets"]} == {
        "Staging": "success",
        "Production": "skipped",
    }
    assert report["summary"]["added"] == 3


def test_no_canary_in_xcom_rendered_fields_or_logs(triggered) -> None:
    api, run = triggered
    base = f"/api/v2/dags/{DAG_ID}/dagRuns/{run['dag_run_id']}"
    seen: list[str] = []
    for ti in api.call("GET", f"{base}/taskInstances")["task_instances"]:
        task = f"{base}/taskInstances/{ti['task_id']}"
        seen.append(json.dumps(ti.get("rendered_fields")))
        seen.append(json.dumps(api.call("GET", f"{task}/xcomEntries")))
        if ti["state"] == "success":
            seen.append(
                api.call("GET", f"{task}/logs/{ti['try_number']}?full_content=true", raw=True)
            )
    text = "\n".join(seen)
    assert "synced Staging" in text  # the logs were really read
    for canary in CANARIES:
        assert canary not in text
