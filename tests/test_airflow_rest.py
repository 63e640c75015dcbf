"""The example DAG under real Airflow processes, triggered through the REST API with a conf."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.parse
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


def _quoted(run: dict[str, Any]) -> str:
    return urllib.parse.quote(run["dag_run_id"])


def trigger(api: Api, conf: dict[str, Any], dag_id: str = DAG_ID) -> dict[str, Any]:
    run = api.call("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf})
    return api.wait_for(
        f"/api/v2/dags/{dag_id}/dagRuns/{_quoted(run)}",
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
    path = f"/api/v2/dags/{run['dag_id']}/dagRuns/{_quoted(run)}/taskInstances"
    return {ti["task_id"]: ti for ti in api.call("GET", path)["task_instances"]}


def task_log(api: Api, run: dict[str, Any], task_id: str) -> str:
    base = f"/api/v2/dags/{run['dag_id']}/dagRuns/{_quoted(run)}/taskInstances/{task_id}"
    return api.call("GET", f"{base}/logs/1?full_content=true", raw=True)[-4000:]


def test_a_dry_run_and_its_summary_show_without_opening_logs(api, triggered) -> None:
    _, real = triggered  # runs first: the dry run then has nothing left to add to Staging
    dry = trigger(api, {"dry_run": True})
    not_ok = {
        t: ti["state"] for t, ti in task_instances(api, dry).items() if ti["state"] != "success"
    }
    assert dry["state"] == "success", (not_ok, task_log(api, dry, next(iter(not_ok), "report")))
    report = task_instances(api, dry)["report"]["rendered_fields"]
    assert (
        report["run_settings"] == "DRY RUN: reads and diffs, writes nothing; mode full; targets all"
    )
    summary = report["summary"].splitlines()
    assert summary[0] == "DRY RUN: nothing was written"
    assert (
        summary[-1] == "Changes: 9 pending"
    )  # Production, Ci and Cluster: 3 each; Staging in sync
    assert "Production: 3 added" in report["summary"]
    sync = task_instances(api, real)["sync.Staging"]["rendered_fields"]
    assert sync["run_settings"] == "writes changes; mode full; targets Staging"
    assert sync["summary"].startswith("Sync applied\n\nStaging: 3 added")
    base = f"/api/v2/dags/{DAG_ID}/dagRuns/{dry['dag_run_id']}/taskInstances/report"
    log = api.call("GET", f"{base}/logs/1?full_content=true", raw=True)
    assert "secretsync (dry run): 4 targets, +9 ~0 -0 =3 (12 total), 0 failed" in log
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
        "merge.Ci": "skipped", "merge.Cluster": "skipped",
        "sync.Staging": "success", "sync.Production": "skipped",
        "sync.Ci": "skipped", "sync.Cluster": "skipped", "report": "success",
    }  # fmt: skip
    report = api.call("GET", f"{base}/taskInstances/report/xcomEntries/return_value")["value"]
    report = json.loads(report) if isinstance(report, str) else report
    assert report["dry_run"] is False
    assert {t["target"]: t["status"] for t in report["targets"]} == {
        "Staging": "success",
        "Production": "skipped",
        "Ci": "skipped",
        "Cluster": "skipped",
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


ROTATION_DAG = "secretsync_on_rotation"
PRODUCTION_ASSET = "secretsync://vault/secret/prod"


def asset_events_of(api: Api, run: dict[str, Any]) -> list[dict[str, Any]]:
    query = f"source_dag_id={run['dag_id']}&source_run_id={_quoted(run)}"
    return api.call("GET", f"/api/v2/assets/events?{query}")["asset_events"]


def rotation_runs_by_source(api: Api) -> dict[str, list[dict[str, Any]]]:
    """Source run id of the triggering events -> the downstream runs they triggered."""
    runs: dict[str, list[dict[str, Any]]] = {}
    base = f"/api/v2/dags/{ROTATION_DAG}/dagRuns"
    for run in api.call("GET", base)["dag_runs"]:
        for event in api.call("GET", f"{base}/{_quoted(run)}/upstreamAssetEvents")["asset_events"]:
            runs.setdefault(event["source_run_id"], []).append(run)
    return runs


def triggered_by(api: Api, source: dict[str, Any]) -> dict[str, Any]:
    """The downstream run the events of ``source`` triggered, once it ended (waits for it)."""

    def ended(_: Any) -> bool:
        runs = rotation_runs_by_source(api).get(source["dag_run_id"], [])
        return any(r["state"] in ("success", "failed") for r in runs)

    api.wait_for(f"/api/v2/dags/{ROTATION_DAG}/dagRuns", ended)
    (run,) = rotation_runs_by_source(api)[source["dag_run_id"]]
    return run


def rotated_names(api: Api, run: dict[str, Any]) -> list[str]:
    path = f"/api/v2/dags/{ROTATION_DAG}/dagRuns/{_quoted(run)}/taskInstances/rotated_secrets"
    value = api.call("GET", f"{path}/xcomEntries/return_value")["value"]
    return json.loads(value) if isinstance(value, str) else value


def test_a_change_emits_the_destination_asset_and_triggers_the_downstream_dag(
    api, airflow_standalone
) -> None:
    """Under the real scheduler: a run that changes Production emits one event of its asset
    (names and counts, no value) and ``secretsync_on_rotation`` runs; a zero-change run emits
    nothing and triggers nothing: the next downstream run comes from the next change alone."""
    servers = airflow_standalone.servers
    vault = hvac.Client(url=servers.vault.url, token=servers.vault.token)
    name, canary = f"rotation-{os.getpid()}", "canary-rotation-7f3a9c11"
    source = {"mount_point": "secret", "path": f"sources/platform/{name}"}
    vault.secrets.kv.v2.create_or_update_secret(secret={"token": canary}, **source)
    try:
        added = trigger(api, {"targets": ["Production"]})
        assert added["state"] == "success"
        (event,) = asset_events_of(api, added)
        assert (event["uri"], event["source_task_id"]) == (PRODUCTION_ASSET, "sync.Production")
        assert event["extra"]["target"] == "Production"
        assert event["extra"]["added"] >= 1
        assert name in event["extra"]["names"]
        first = triggered_by(api, added)
        assert (first["state"], first["run_type"]) == ("success", "asset_triggered")
        assert f"{PRODUCTION_ASSET}: {name}" in rotated_names(api, first)

        zero = trigger(api, {"targets": ["Production"]})
        assert zero["state"] == "success"
        assert asset_events_of(api, zero) == []
    finally:
        vault.secrets.kv.v2.delete_metadata_and_all_versions(**source)

    removed = trigger(api, {"targets": ["Production"]})
    assert removed["state"] == "success"
    (removal,) = asset_events_of(api, removed)
    assert removal["extra"] == {
        "target": "Production", "added": 0, "modified": 0, "removed": 1,
        "names": [name], "names_omitted": 0,
    }  # fmt: skip
    second = triggered_by(api, removed)
    assert second["dag_run_id"] != first["dag_run_id"]
    assert rotated_names(api, second) == [f"{PRODUCTION_ASSET}: {name}"]
    by_source = rotation_runs_by_source(api)
    assert zero["dag_run_id"] not in by_source  # nothing ever consumed an event of it
    assert canary not in json.dumps([event, removal, by_source])


ROLLBACK_DAG = "secretsync_example_rollback"
ROLLBACK_CANARIES = {f"v{n}": f"canary-rollback-{n}-5d1e08b3" for n in range(1, 6)}


def xcom_of(api: Api, run: dict[str, Any], task_id: str) -> Any:
    base = f"/api/v2/dags/{run['dag_id']}/dagRuns/{_quoted(run)}/taskInstances/{task_id}"
    value = api.call("GET", f"{base}/xcomEntries/return_value")["value"]
    return json.loads(value) if isinstance(value, str) else value


def test_the_rollback_dag_rolls_back_a_run(api, airflow_standalone) -> None:
    """A run modifies one secret and creates one in Vault (Production) and AWS (Staging); the
    rollback DAG, given that run's id, shows the rollback by default (writing nothing), then
    restores the previous versions, deletes the created secrets and refuses the secret edited
    by hand since. A wrong run id fails with a clear message and writes nothing."""
    servers = airflow_standalone.servers
    vault = hvac.Client(url=servers.vault.url, token=servers.vault.token)
    sm = boto3.client("secretsmanager", endpoint_url=servers.aws.url, region_name="us-east-1")
    name, c = f"rollback-{os.getpid()}", ROLLBACK_CANARIES
    selection = {"targets": ["Staging", "Production"]}
    api.wait_for(f"/api/v2/dags/{ROLLBACK_DAG}", lambda dag: not dag.get("has_import_errors"))

    def source(rel: str, value: str | None) -> None:
        where = {"mount_point": "secret", "path": f"sources/platform/{name}/{rel}"}
        if value is None:
            vault.secrets.kv.v2.delete_metadata_and_all_versions(**where)
        else:
            vault.secrets.kv.v2.create_or_update_secret(secret={"token": value}, **where)

    def destinations() -> dict[str, dict[str, Any]]:
        return {
            "Production": read_vault(vault, f"prod/{name}"),
            "Staging": read_aws(sm, f"staging/{name}/"),
        }

    source("rotated", c["v1"])
    source("edited", c["v2"])
    try:
        assert trigger(api, selection)["state"] == "success"
        before = destinations()
        source("rotated", c["v3"])
        source("edited", c["v4"])
        source("created", c["v5"])
        run = trigger(api, selection)
        assert run["state"] == "success"
        after = destinations()
        assert after["Staging"]["rotated"] == {"token": c["v3"]}

        missing = {"logical_date": None, "conf": {"dry_run": False}}
        with pytest.raises(urllib.error.HTTPError) as refused:
            api.call("POST", f"/api/v2/dags/{ROLLBACK_DAG}/dagRuns", missing)
        assert refused.value.code == 400  # run_id is required

        dry = trigger(api, {"run_id": run["dag_run_id"]}, ROLLBACK_DAG)
        assert dry["state"] == "success", task_log(api, dry, "rollback")
        report = xcom_of(api, dry, "rollback")
        assert report["dry_run"] is True
        for target in report["targets"]:
            assert sorted((ch["path"], ch["change_type"]) for ch in target["changes"]) == [
                (f"{name}/created", "removed"),
                (f"{name}/edited", "modified"),
                (f"{name}/rotated", "modified"),
            ]
            assert "versions" not in target  # nothing done
        assert destinations() == after

        by_hand = {"token": "edited-by-hand"}
        vault.secrets.kv.v2.create_or_update_secret(
            mount_point="secret", path=f"prod/{name}/edited", secret=by_hand
        )
        sm.put_secret_value(SecretId=f"staging/{name}/edited", SecretString=json.dumps(by_hand))
        real = trigger(api, {"run_id": run["dag_run_id"], "dry_run": False}, ROLLBACK_DAG)
        assert real["state"] == "failed"  # something was refused
        report = xcom_of(api, real, "rollback")
        assert {t["target"] for t in report["targets"]} == {"Staging", "Production"}
        for target in report["targets"]:
            assert target["refused"] == [
                {
                    "path": f"{name}/edited",
                    "change_type": "modified",
                    "reason": "it changed since the run",
                }
            ]
            assert target["summary"] == {
                "added": 0, "removed": 1, "modified": 1, "unchanged": 0, "total": 2,
            }  # fmt: skip
            assert {v["path"] for v in target["versions"]} == {
                f"{name}/created",
                f"{name}/rotated",
            }
        for where, restored in destinations().items():
            assert restored == {"rotated": before[where]["rotated"], "edited": by_hand}, where
        log = task_log(api, real, "rollback")
        assert "secretsync rollback: failed or refused in:" in log
        assert asset_events_of(api, real) == []  # a failed task emits no event

        bad = trigger(api, {"run_id": "manual__no-such-run", "dry_run": False}, ROLLBACK_DAG)
        assert bad["state"] == "failed"
        log = task_log(api, bad, "rollback")
        assert (
            "there is no run 'manual__no-such-run' of DAG 'secretsync_example'; nothing was written"
        ) in log

        seen = []
        for rollback_run in (dry, real, bad):
            for task_id, ti in task_instances(api, rollback_run).items():
                base = (
                    f"/api/v2/dags/{ROLLBACK_DAG}/dagRuns/{_quoted(rollback_run)}"
                    f"/taskInstances/{task_id}"
                )
                seen.append(json.dumps(ti.get("rendered_fields")))
                seen.append(json.dumps(api.call("GET", f"{base}/xcomEntries")))
                logs = f"{base}/logs/{ti['try_number']}?full_content=true"
                seen.append(api.call("GET", logs, raw=True))
        text = "\n".join(seen)
        assert f"{name}/rotated" in text  # the names were really read
        for canary in c.values():
            assert canary not in text
    finally:
        for rel in ("rotated", "edited", "created"):
            source(rel, None)
        assert trigger(api, selection)["state"] == "success"  # removes what this test synced
    assert destinations() == {"Production": {}, "Staging": {}}
