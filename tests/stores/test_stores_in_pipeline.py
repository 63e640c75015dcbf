"""The stores under the real engine: what one run writes, the next run finds unchanged."""

from __future__ import annotations

import json

import pytest

from airflow_secretsync.core.engine import Engine, RunOptions
from airflow_secretsync.stores.factory import StoreFactory
from tests.stores.conftest import pipeline, unique


@pytest.mark.parametrize("merge_store", ["s3", "vault", None])
def test_second_run_finds_everything_unchanged(
    servers, vault_client, aws_client, merge_store
) -> None:
    root = unique("e2e")
    bucket = unique("e2e-bucket")
    sm = aws_client("secretsmanager")
    aws_client("s3").create_bucket(Bucket=bucket)
    vault_client.secrets.kv.v2.create_or_update_secret(
        path=f"{root}/src/app/db", secret={"host": "db", "port": 5432}, mount_point="secret"
    )
    sm.create_secret(Name=f"{root}/legacy/token", SecretString="plain-token")
    sm.create_secret(Name=f"{root}/legacy/app/db", SecretString=json.dumps({"port": 6543}))
    merge_stores = {
        "s3": {"s3": {"bucket": bucket, "prefix": f"{root}/"}},
        "vault": {"vault": {"mount": "secret", "path": f"{root}/merged"}},
        None: None,
    }
    config = pipeline(
        pipeline={"merge": {"enabled": merge_store is not None}},
        merge_store=merge_stores[merge_store],
        sources={
            "team": {"vault": {"path": f"{root}/src"}},
            "legacy": {"aws": {"prefix": f"{root}/legacy/"}},
        },
        targets={
            "ToAws": {"imports": ["team", "legacy"], "aws": {"prefix": f"{root}/out/"}},
            "ToVault": {"imports": ["legacy"], "vault": {"path": f"{root}/out"}},
        },
    )

    def run(mode="full"):
        with StoreFactory(config) as stores:
            return Engine(config, stores, RunOptions(mode=mode)).run()

    first, second, from_merge_store = run(), run(), run("sync-only")

    assert [t.status for t in first.targets] == ["success", "success"]
    assert first.summary.to_dict() == {
        "added": 4,
        "removed": 0,
        "modified": 0,
        "unchanged": 0,
        "total": 4,
    }
    assert second.summary.unchanged == 4
    assert second.summary.changed == 0
    assert from_merge_store.summary.unchanged == 4
    written = sm.get_secret_value(SecretId=f"{root}/out/app/db")["SecretString"]
    assert json.loads(written) == {"host": "db", "port": 6543}
    assert sm.get_secret_value(SecretId=f"{root}/out/token")["SecretString"] == "plain-token"
    in_vault = vault_client.secrets.kv.v2.read_secret_version(  # a plain string, wrapped
        path=f"{root}/out/token", mount_point="secret", raise_on_deleted_version=True
    )
    assert in_vault["data"]["data"] == {"value": "plain-token"}


def test_binary_secret_cannot_go_through_a_vault_merge_store(servers, aws_client) -> None:
    root = unique("e2e-bin")
    aws_client("secretsmanager").create_secret(
        Name=f"{root}/src/cert", SecretBinary=b"\x00binary\xff"
    )
    config = pipeline(
        merge_store={"vault": {"mount": "secret", "path": f"{root}/merged"}},
        sources={"certs": {"aws": {"prefix": f"{root}/src/"}}},
        targets={"Out": {"imports": ["certs"], "aws": {"prefix": f"{root}/out/"}}},
    )
    with StoreFactory(config) as stores:
        report = Engine(config, stores, RunOptions()).run()

    (target,) = report.targets
    assert target.status == "failed"
    assert "'cert'" in target.error
    assert "binary value cannot be stored in Vault" in target.error
