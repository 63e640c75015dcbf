"""Seed the example sources (``dags/configs/example.yaml``) in local OpenBao and moto."""

from __future__ import annotations

import json

import boto3
import hvac

from devtools.servers import AWS_REGION, LocalServers

PLATFORM = {
    "app/db": {"host": "db.internal", "port": 5432, "user": "app", "password": "example-pw-1"},
    "app/api": {"token": "example-token-1", "scopes": ["read"]},
    "tmp/scratch": {"note": "excluded by Staging's filter"},
}
LEGACY = {
    "legacy/app/db": json.dumps({"password": "example-legacy-pw", "pool": 10}),
    "legacy/app/api": json.dumps({"scopes": ["write"]}),
    "legacy/smtp": "plain-text-smtp-password",
}


def seed_example(servers: LocalServers, platform=PLATFORM, legacy=LEGACY) -> None:
    """Write the example source secrets (idempotent)."""
    vault = hvac.Client(url=servers.vault.url, token=servers.vault.token)
    for path, value in platform.items():
        vault.secrets.kv.v2.create_or_update_secret(
            mount_point="secret", path=f"sources/platform/{path}", secret=value
        )
    client = boto3.client(
        "secretsmanager",
        endpoint_url=servers.aws.url,
        region_name=AWS_REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    for name, value in legacy.items():
        try:
            client.create_secret(Name=name, SecretString=value)
        except client.exceptions.ResourceExistsException:
            client.put_secret_value(SecretId=name, SecretString=value)
