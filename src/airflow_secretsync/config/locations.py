"""Where a source, the merge store or a destination lives, as data and for people (no
network access, no secrets): used by ``secretsync plan`` and a generated DAG's docs."""

from __future__ import annotations

from typing import Any

from airflow_secretsync.config.model import (
    AwsDestination,
    AwsSourceLocation,
    PipelineConfig,
    S3Location,
    VaultLocation,
)


def location(store: object) -> dict[str, Any]:
    """Where a source, merge store or destination lives: kind, place and connection id."""
    if isinstance(store, VaultLocation):
        return {"type": "vault", "mount": store.mount, "path": store.path,
                "connection_id": store.connection_id}  # fmt: skip
    if isinstance(store, S3Location):
        return {"type": "s3", "bucket": store.bucket, "prefix": store.prefix,
                "region": store.region, "connection_id": store.connection_id}  # fmt: skip
    assert isinstance(store, AwsDestination | AwsSourceLocation)
    where = {"type": "aws", "region": store.region, "prefix": store.prefix,
             "connection_id": store.connection_id}  # fmt: skip
    if isinstance(store, AwsDestination):
        where["account_id"] = store.account_id
    return where


def describe(where: dict[str, Any]) -> str:
    """A :func:`location` for people: ``AWS Secrets Manager staging/* in us-east-1 (...)``."""
    conn = where["connection_id"]
    region = f"in {where['region']}" if where.get("region") else "in the connection's region"
    if where["type"] == "vault":
        text = f"Vault {where['mount']}/{where['path']}".rstrip("/")
    elif where["type"] == "s3":
        text = f"S3 s3://{where['bucket']}/{where['prefix']} {region}"
    else:
        text = f"AWS Secrets Manager {where['prefix'] or '(no prefix) '}* {region}"
        text += f", account {where['account_id']}" if where.get("account_id") else ""
    return f"{text} (connection {conn})"


def destination_text(config: PipelineConfig, target: str) -> str:
    """Where ``target`` syncs to, for people; ``(no destination)`` when it has none."""
    dest = config.targets[target].destination
    return describe(location(dest)) if dest is not None else "(no destination)"
