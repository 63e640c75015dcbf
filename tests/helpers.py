"""Small helpers shared by tests: unique names, seeding and reading the real servers."""

from __future__ import annotations

import json
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any

import hvac


def unique(prefix: str = "t") -> str:
    """A name no other test uses on the shared servers."""
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def write_config(directory: Path, text: str, name: str = "pipeline.yaml") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text))
    return path


def aws_to_vault_config(directory: Path, ns: str) -> Path:
    """A pipeline ``Prod`` from the AWS prefix ``<ns>/src/`` to the Vault path ``<ns>/dest``,
    with a Vault merge store at ``<ns>/merged``."""
    return write_config(
        directory,
        f"""
        version: 1
        merge_store: {{vault: {{path: {ns}/merged}}}}
        sources:
          app: {{aws: {{prefix: {ns}/src/}}}}
        targets:
          Prod:
            imports: [app]
            vault: {{path: {ns}/dest}}
        """,
    )


def seed_vault(client, path: str, secrets: dict[str, dict], mount: str = "secret") -> None:
    for rel, value in secrets.items():
        client.secrets.kv.v2.create_or_update_secret(
            mount_point=mount, path=f"{path}/{rel}", secret=value
        )


def read_vault(client, path: str, mount: str = "secret") -> dict[str, Any]:
    """Every secret under ``path`` (recursively), keyed by relative path."""
    out: dict[str, Any] = {}
    pending = [""]
    while pending:
        rel = pending.pop()
        try:
            keys = client.secrets.kv.v2.list_secrets(mount_point=mount, path=f"{path}/{rel}")
        except hvac.exceptions.InvalidPath:  # an empty folder answers 404
            continue
        for key in keys["data"]["keys"]:
            if key.endswith("/"):
                pending.append(f"{rel}{key}")
            else:
                data = client.secrets.kv.v2.read_secret_version(
                    mount_point=mount, path=f"{path}/{rel}{key}", raise_on_deleted_version=True
                )
                out[f"{rel}{key}"] = data["data"]["data"]
    return out


def seed_aws(client, secrets: dict[str, Any]) -> None:
    for name, value in secrets.items():
        kwargs = (
            {"SecretBinary": value}
            if isinstance(value, bytes)
            else {"SecretString": value if isinstance(value, str) else json.dumps(value)}
        )
        client.create_secret(Name=name, **kwargs)


def read_aws(client, prefix: str) -> dict[str, Any]:
    """Secrets whose name starts with ``prefix`` (not pending deletion), JSON objects parsed."""
    out: dict[str, Any] = {}
    for page in client.get_paginator("list_secrets").paginate(
        Filters=[{"Key": "name", "Values": [prefix]}]
    ):
        for entry in page["SecretList"]:
            if not entry["Name"].startswith(prefix) or entry.get("DeletedDate"):
                continue
            value = client.get_secret_value(SecretId=entry["ARN"])
            raw = value.get("SecretString", value.get("SecretBinary"))
            try:
                parsed = json.loads(raw) if isinstance(raw, str) else raw
                out[entry["Name"][len(prefix) :]] = parsed if isinstance(parsed, dict) else raw
            except ValueError:
                out[entry["Name"][len(prefix) :]] = raw
    return out


def short_lived_approle(
    client,
    policy_hcl: str = 'path "secret/*" { capabilities = ["read", "list", "create", "update"] }',
) -> tuple[str, str, str]:
    """An AppRole whose tokens live 2 s (TTL and max TTL): (auth mount, role id, secret id)."""
    mount, policy = unique("approle"), unique("policy")
    client.sys.enable_auth_method("approle", path=mount)
    client.sys.create_or_update_policy(name=policy, policy=policy_hcl)
    client.auth.approle.create_or_update_approle(
        "short", token_policies=[policy], token_ttl="2s", token_max_ttl="2s", mount_point=mount
    )
    role_id = client.auth.approle.read_role_id("short", mount_point=mount)["data"]["role_id"]
    secret = client.auth.approle.generate_secret_id("short", mount_point=mount)
    return mount, role_id, secret["data"]["secret_id"]


def wait_until_expired(client, token: str, attempts: int = 100) -> None:
    """Return once Vault no longer knows ``token`` (its TTL ran out); polls every 0.1 s."""
    for _ in range(attempts):
        try:
            client.auth.token.lookup(token)
        except (hvac.exceptions.Forbidden, hvac.exceptions.InvalidRequest):  # "bad token"
            return
        time.sleep(0.1)
    raise AssertionError("the token did not expire")
