"""Races: a second writer changes a Vault destination between the diff and the write; two DAG
runs of one pipeline are triggered at the same moment."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import boto3
import hvac
import pytest
import requests

from airflow_secretsync.config import load_config
from airflow_secretsync.core.engine import CAS_ATTEMPTS, Engine, RunOptions
from airflow_secretsync.stores.base import StoredSecret
from airflow_secretsync.stores.factory import StoreFactory
from airflow_secretsync.stores.vault.store import VaultStore
from devtools.airflow_ui import RunningAirflow
from devtools.apiservers.base import ApiServer
from devtools.seed import GITHUB_REPOSITORY, KUBERNETES_NAMESPACE
from tests.helpers import read_aws, read_vault, seed_vault, unique, write_config
from tests.test_airflow_rest import Api

CONFIG = """
version: 1
pipeline: {{merge: {{enabled: false}}}}
sources:
  app: {{vault: {{path: {ns}/src}}}}
targets:
  Prod:
    imports: [app]
    vault: {{path: {ns}/dest}}
"""
DESIRED = {"app/db": {"user": "app", "password": "new"}, "app/new": {"token": "t"}}


class RacedVaultStore(VaultStore):
    """A real Vault store that calls ``after_listing()`` right after each listing: after the
    diff read the secrets, before any write."""

    after_listing: Callable[[], None]

    def list_secrets(self) -> dict[str, StoredSecret]:
        secrets = super().list_secrets()
        self.after_listing()
        return secrets


class RacedStores(StoreFactory):
    """The real stores of a config; after the destination's n-th listing, ``race(n)`` runs (a
    second writer with its own client)."""

    def __init__(self, config, race: Callable[[int], None]) -> None:
        super().__init__(config)
        self.race = race
        self.listings = 0

    def destination(self, target_name: str) -> RacedVaultStore:
        plain = super().destination(target_name)
        store = RacedVaultStore(plain.connection, mount=plain.mount, path=plain.path)
        store.after_listing = self._listed
        return store

    def _listed(self) -> None:
        self.listings += 1
        self.race(self.listings)


@pytest.fixture
def race(servers, vault_client: hvac.Client, tmp_path: Path):
    """Sync ``Prod`` (app/db to update, app/new to create) while ``writer(n)`` races it."""
    ns = unique("race")
    seed_vault(vault_client, f"{ns}/src", DESIRED)
    vault_client.secrets.kv.v2.create_or_update_secret(
        mount_point="secret", path=f"{ns}/dest/app/db", secret={"user": "app", "password": "old"}
    )
    vault_client.secrets.kv.v2.update_metadata(
        mount_point="secret",
        path=f"{ns}/dest/app/db",
        custom_metadata={
            "managed-by": "airflow-secretsync",
            "secretsync-owner": "secretsync_pipeline/Prod",
        },
    )
    second_writer = hvac.Client(url=servers.vault.url, token=servers.vault.token)
    config = load_config(write_config(tmp_path, CONFIG.format(ns=ns)))

    def write(path: str, value: dict) -> None:
        second_writer.secrets.kv.v2.create_or_update_secret(
            mount_point="secret", path=f"{ns}/dest/{path}", secret=value
        )

    def sync(writer: Callable[[int], None]):
        with RacedStores(config, writer) as stores:
            report = Engine(config, stores, RunOptions()).run()
            return report.targets[0], stores.listings

    def version(path: str, number: int | None = None) -> dict:
        return vault_client.secrets.kv.v2.read_secret_version(
            mount_point="secret", path=f"{ns}/dest/{path}", version=number,
            raise_on_deleted_version=True,
        )["data"]  # fmt: skip

    return {"ns": ns, "write": write, "sync": sync, "version": version, "client": vault_client}


def first_listing(race, path: str, value: dict) -> Callable[[int], None]:
    """A second writer that writes ``value`` at ``path`` once, after the first listing."""

    def writer(listing: int) -> None:
        if listing == 1:
            race["write"](path, value)

    return writer


def changes_of(report) -> dict[str, tuple]:
    return {
        c.path: (c.change_type, c.keys_added, c.keys_removed, c.keys_modified)
        for c in report.changes
    }


def test_a_concurrent_update_is_not_lost_and_the_retry_rediffs(race) -> None:
    theirs = {"user": "app", "password": "theirs", "extra": "x"}
    report, listings = race["sync"](first_listing(race, "app/db", theirs))

    assert listings == 2  # the CAS conflict made it read and diff again
    assert report.status == "success"
    # the second diff was against their version (an 'extra' key to remove), not ours
    assert changes_of(report)["app/db"] == ("modified", (), ("extra",), ("password",))
    current = race["version"]("app/db")
    assert current["data"] == DESIRED["app/db"]
    assert current["metadata"]["version"] == 3
    assert race["version"]("app/db", 2)["data"] == theirs  # their update is in the history


def test_a_concurrent_update_to_the_desired_value_is_not_written_again(race) -> None:
    report, listings = race["sync"](first_listing(race, "app/db", DESIRED["app/db"]))
    assert listings == 2
    assert report.status == "success"
    assert race["version"]("app/db")["metadata"]["version"] == 2  # theirs, not rewritten


def test_a_concurrently_created_secret_is_never_overwritten_without_adopt(race) -> None:
    theirs = {"token": "someone else's"}
    report, listings = race["sync"](first_listing(race, "app/new", theirs))
    assert listings == 2
    assert report.status == "failed"
    assert report.error == (
        "would overwrite secrets not created by airflow-secretsync (app/new); "
        "set 'adopt: true' on the target to allow it; stopped, but an earlier attempt that "
        "lost a write conflict may have written"  # app/db, before app/new conflicted
    )
    assert race["version"]("app/new")["data"] == theirs


def test_a_writer_that_always_wins_fails_the_target_and_keeps_its_value(race) -> None:
    def always(n: int) -> None:
        race["write"]("app/db", {"user": "app", "password": f"theirs-{n}"})

    report, listings = race["sync"](always)
    assert listings == CAS_ATTEMPTS
    assert report.status == "failed"
    assert report.error.startswith(f"vault://secret/{race['ns']}/dest 'app/db': changed since")
    assert report.error.endswith("; not overwritten")
    assert race["version"]("app/db")["data"] == {
        "user": "app",
        "password": f"theirs-{CAS_ATTEMPTS}",
    }


def test_the_report_counts_what_the_run_changed_across_retries(race) -> None:
    """The first attempt creates app/new, then loses the race on app/db to a writer that set
    exactly the desired value: the retry finds nothing left to do, yet this run added app/new."""
    report, listings = race["sync"](first_listing(race, "app/db", DESIRED["app/db"]))
    assert listings == 2
    assert race["version"]("app/new")["data"] == DESIRED["app/new"]
    assert changes_of(report)["app/new"][0] == "added"


def forget_secrets(sm, prefix: str) -> None:
    """Delete (without recovery) every secret whose name starts with ``prefix``."""
    pages = sm.get_paginator("list_secrets").paginate(
        IncludePlannedDeletion=True, Filters=[{"Key": "name", "Values": [prefix]}]
    )
    for secret in (s for page in pages for s in page["SecretList"]):
        sm.delete_secret(SecretId=secret["ARN"], ForceDeleteWithoutRecovery=True)


def forget_vault(client: hvac.Client, path: str) -> None:
    """Delete every secret under ``path`` (metadata and all versions)."""
    for rel in read_vault(client, path):
        client.secrets.kv.v2.delete_metadata_and_all_versions(
            mount_point="secret", path=f"{path}/{rel}"
        )


def forget_api_secrets(server: ApiServer | None, secrets_path: str) -> None:
    """Delete every secret a local GitHub or Kubernetes API server lists at ``secrets_path``,
    through its own REST API (``GET`` the list, ``DELETE`` each by name)."""
    if server is None:
        return
    headers = {"Authorization": f"Bearer {server.token}", "Accept": "application/json"}
    listing = requests.get(f"{server.url}{secrets_path}", headers=headers, timeout=10).json()
    names = [s["name"] for s in listing.get("secrets", [])]  # GitHub
    names += [item["metadata"]["name"] for item in listing.get("items", [])]  # Kubernetes
    for name in names:
        requests.delete(f"{server.url}{secrets_path}/{name}", headers=headers, timeout=10)


@contextmanager
def example_destinations_emptied(airflow: RunningAirflow) -> Iterator[tuple]:
    """The example's destinations (all four) and merge store, empty before and after: the
    standalone Airflow of the session, and its servers, are shared with other tests."""
    servers = airflow.servers
    sm = boto3.client("secretsmanager", endpoint_url=servers.aws.url, region_name="us-east-1")
    vault = hvac.Client(url=servers.vault.url, token=servers.vault.token)

    def empty() -> None:
        forget_secrets(sm, "staging/")
        for path in ("prod", "secretsync/merged"):
            forget_vault(vault, path)
        forget_api_secrets(servers.github, f"/repos/{GITHUB_REPOSITORY}/actions/secrets")
        forget_api_secrets(servers.kubernetes, f"/api/v1/namespaces/{KUBERNETES_NAMESPACE}/secrets")

    empty()
    try:
        yield sm, vault
    finally:
        empty()


def test_two_runs_triggered_at_once_run_one_after_the_other(airflow_standalone) -> None:
    """Under ``airflow standalone``: ``max_active_runs: 1`` queues the second run; it starts
    after the first ended and finds everything the first wrote unchanged."""
    dag_id = "secretsync_example"
    with example_destinations_emptied(airflow_standalone) as (sm, vault):
        api = Api(airflow_standalone.url, airflow_standalone.username, airflow_standalone.password)
        dag = api.wait_for(f"/api/v2/dags/{dag_id}", lambda d: not d.get("has_import_errors"))
        assert dag["max_active_runs"] == 1
        runs = trigger_at_once(api, dag_id, 2)
        finished = sorted(
            (
                api.wait_for(
                    f"/api/v2/dags/{dag_id}/dagRuns/{run['dag_run_id']}",
                    lambda r: r["state"] in ("success", "failed"),
                )
                for run in runs
            ),
            key=lambda r: r["start_date"],
        )
        bases = [f"/api/v2/dags/{dag_id}/dagRuns/{r['dag_run_id']}" for r in finished]
        tasks = [api.call("GET", f"{base}/taskInstances")["task_instances"] for base in bases]
        reports = [
            api.call("GET", f"{base}/taskInstances/report/xcomEntries/return_value")["value"]
            for base in bases
        ]
        staging = read_aws(sm, "staging/")
        production = read_vault(vault, "prod")

    assert [r["state"] for r in finished] == ["success", "success"]
    # one after the other: every task of the second run started after the first run ended
    assert finished[0]["end_date"] <= finished[1]["start_date"]
    assert max(ti["end_date"] for ti in tasks[0]) <= min(ti["start_date"] for ti in tasks[1])
    summaries = [r if isinstance(r, dict) else json.loads(r) for r in reports]
    assert summaries[0]["summary"] == {
        "added": 12, "removed": 0, "modified": 0, "unchanged": 0, "total": 12
    }  # fmt: skip
    assert summaries[1]["summary"] == {
        "added": 0, "removed": 0, "modified": 0, "unchanged": 12, "total": 12
    }  # fmt: skip
    expected = {
        "app/db": {"host": "db.internal", "port": 5432, "user": "app",
                   "password": "example-legacy-pw", "pool": 10},
        "app/api": {"token": "example-token-1", "scopes": ["read", "write"]},
    }  # fmt: skip
    assert staging == {**expected, "smtp": "plain-text-smtp-password"}
    assert production == {**expected, "smtp": {"value": "plain-text-smtp-password"}}


def trigger_at_once(api: Api, dag_id: str, count: int) -> list[dict]:
    """Trigger ``count`` runs from as many threads, released together."""
    barrier = threading.Barrier(count)
    runs: list[dict] = []

    def trigger() -> None:
        barrier.wait()
        runs.append(api.call("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None}))

    threads = [threading.Thread(target=trigger) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(runs) == count
    return runs
