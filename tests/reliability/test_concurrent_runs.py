"""Concurrent runs (SPEC §3a): runs of one pipeline at once never fail each other, never lose
an update, and each report counts only what its own run changed."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from airflow_secretsync.config import load_config
from airflow_secretsync.core.engine import Engine, RunOptions
from airflow_secretsync.core.report import Report
from airflow_secretsync.stores.factory import StoreFactory
from tests.helpers import read_aws, read_vault, seed_vault, unique, write_config

SECRETS = {f"s{i:03}": {"n": i} for i in range(60)}

CONFIG = """
version: 1
pipeline:
  merge: {{enabled: {merge}}}
  sync: {{parallel: 8, delete_orphans: true}}
merge_store: {merge_store}
sources:
  app: {{vault: {{path: {ns}/src}}}}
targets:
  Base: [app]
  Vaulted:
    inherits: Base
    vault: {{path: {ns}/dest}}
  Mirrored:
    inherits: Base
    aws: {{prefix: {ns}/mirror/}}
"""


def run_at_once(config_path: Path, count: int) -> list[Report]:
    """``count`` whole-pipeline runs (as ``secretsync pipeline`` does), released together."""
    config = load_config(config_path)
    barrier = threading.Barrier(count)
    reports: list[Report] = []

    def run() -> None:
        with StoreFactory(config) as stores:
            engine = Engine(config, stores, RunOptions())
            barrier.wait()
            reports.append(engine.run())

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(reports) == count
    return reports


@pytest.mark.parametrize(
    ("merge", "runs"), [("vault", 2), ("s3", 2), ("off", 3)], ids=["vault-merge", "s3", "no-merge"]
)
@pytest.mark.timeout(300)
def test_runs_at_once_all_succeed_and_count_each_change_once(
    servers, vault_client, aws_client, tmp_path: Path, merge: str, runs: int
) -> None:
    ns = unique("conc")
    seed_vault(vault_client, f"{ns}/src", SECRETS)
    bucket = ns.lower()
    aws_client("s3").create_bucket(Bucket=bucket)
    stores = {
        "vault": f"{{vault: {{path: {ns}/merged}}}}",
        "s3": f"{{s3: {{bucket: {bucket}}}}}",
        "off": "null",
    }
    text = CONFIG.format(ns=ns, merge=str(merge != "off").lower(), merge_store=stores[merge])
    config = write_config(tmp_path, text)

    reports = run_at_once(config, runs)

    for report in reports:
        assert {t.target: (t.status, t.error) for t in report.targets} == {
            "Vaulted": ("success", None),
            "Mirrored": ("success", None),
        }
    for target in ("Vaulted", "Mirrored"):
        summaries = [
            next(t for t in r.targets if t.target == target).summary.to_dict() for r in reports
        ]
        # every secret was added by exactly one of the runs; the others found it there
        assert sum(s["added"] for s in summaries) == len(SECRETS), summaries
        assert all(s["added"] + s["unchanged"] == len(SECRETS) for s in summaries), summaries
        assert all(s["modified"] == s["removed"] == 0 for s in summaries), summaries
    assert read_vault(vault_client, f"{ns}/dest") == SECRETS
    assert read_aws(aws_client("secretsmanager"), f"{ns}/mirror/") == SECRETS
    for rel in ("s000", "s059"):  # written once: nobody overwrote anybody
        meta = vault_client.secrets.kv.v2.read_secret_metadata(
            mount_point="secret", path=f"{ns}/dest/{rel}"
        )["data"]
        assert meta["current_version"] == 1
        assert meta["custom_metadata"]["secretsync-owner"] == "secretsync_pipeline/Vaulted"
