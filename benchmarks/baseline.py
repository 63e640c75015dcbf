"""The naive baseline: a hand-written PythonOperator loop copying Vault secrets to AWS.

Sequential, one Vault read, one ``GetSecretValue`` and one write (``CreateSecret`` or
``PutSecretValue``) per secret, no diff: how a first hand-written sync task usually looks.
It uses the same Airflow connections (through the providers' hooks) as the product.
"""

from __future__ import annotations

import json

from benchmarks.api_calls import ApiCalls


def list_vault_paths(kv, mount: str, base: str, folder: str = "") -> list[str]:
    """Every secret under ``base`` (recursive LIST), relative paths."""
    listed = kv.list_secrets(path=f"{base}/{folder}".rstrip("/"), mount_point=mount)
    paths = []
    for key in listed["data"]["keys"]:
        if key.endswith("/"):
            paths += list_vault_paths(kv, mount, base, folder + key)
        else:
            paths.append(folder + key)
    return paths


def naive_sync(mount: str, base: str, prefix: str, region: str, calls: ApiCalls) -> int:
    """Copy every secret under Vault ``mount/base`` to ``prefix + path`` in Secrets Manager;
    returns how many were copied."""
    from airflow.providers.amazon.aws.hooks.secrets_manager import SecretsManagerHook
    from airflow.providers.hashicorp.hooks.vault import VaultHook

    vault = VaultHook(vault_conn_id="vault_default").get_conn()
    aws = SecretsManagerHook(aws_conn_id="aws_default", region_name=region).get_conn()
    calls.watch_vault(vault)
    calls.watch_aws(aws)
    kv = vault.secrets.kv.v2
    paths = list_vault_paths(kv, mount, base)
    for path in paths:
        secret = kv.read_secret_version(
            path=f"{base}/{path}", mount_point=mount, raise_on_deleted_version=True
        )
        text = json.dumps(secret["data"]["data"])
        name = prefix + path
        try:
            aws.get_secret_value(SecretId=name)
        except aws.exceptions.ResourceNotFoundException:
            aws.create_secret(Name=name, SecretString=text)
        else:
            aws.put_secret_value(SecretId=name, SecretString=text)
    vault.adapter.close()
    aws.close()
    return len(paths)
