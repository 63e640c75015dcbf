"""Benchmark data: 1 KB secrets written to OpenBao and moto concurrently (a thread pool)."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import hvac

from devtools.servers import AWS_REGION, LocalServers

SECRET_BYTES = 1024
SECRETS_PER_FOLDER = 100
VAULT_MOUNT = "secret"
WORKERS = 8  # one below requests' default pool of 10 connections per host


def secret_paths(count: int) -> list[str]:
    """Relative paths of ``count`` secrets, :data:`SECRETS_PER_FOLDER` per folder."""
    return [f"svc-{i // SECRETS_PER_FOLDER:03d}/key-{i:05d}" for i in range(count)]


def secret_value(rng: random.Random, index: int) -> dict[str, Any]:
    """A JSON object of about :data:`SECRET_BYTES` bytes (random, so every value differs)."""
    value = {"username": f"svc-user-{index}", "password": rng.randbytes(16).hex(), "blob": ""}
    filler = SECRET_BYTES - len(json.dumps(value))
    value["blob"] = rng.randbytes(filler // 2 + 1).hex()[:filler]
    return value


def run_concurrently(action: Callable[[Any], object], items: Iterable[Any]) -> None:
    """Apply ``action`` to every item with :data:`WORKERS` threads; the first error is raised."""
    with ThreadPoolExecutor(WORKERS) as pool:
        for _ in pool.map(action, items):
            pass


def vault_client(servers: LocalServers) -> hvac.Client:
    return hvac.Client(url=servers.vault.url, token=servers.vault.token)


def aws_client(servers: LocalServers, region: str = AWS_REGION) -> Any:
    return boto3.client(
        "secretsmanager",
        endpoint_url=servers.aws.url,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def write_vault(client: hvac.Client, base: str, values: dict[str, dict[str, Any]]) -> None:
    """Write ``values`` (relative path -> dict) under ``base`` on the KV v2 mount."""
    kv = client.secrets.kv.v2

    def write(item: tuple[str, dict[str, Any]]) -> None:
        kv.create_or_update_secret(
            path=f"{base}/{item[0]}", secret=item[1], mount_point=VAULT_MOUNT
        )

    run_concurrently(write, values.items())


def seed_vault_source(servers: LocalServers, base: str, count: int, seed: int = 0) -> list[str]:
    """Write ``count`` 1 KB secrets under ``base``; returns their relative paths."""
    rng = random.Random(seed)
    paths = secret_paths(count)
    write_vault(vault_client(servers), base, {p: secret_value(rng, i) for i, p in enumerate(paths)})
    return paths


def change_vault_secrets(servers: LocalServers, base: str, paths: list[str], seed: int) -> None:
    """Give ``paths`` under ``base`` new values (the "1% changed" scenario)."""
    rng = random.Random(seed)
    write_vault(vault_client(servers), base, {p: secret_value(rng, i) for i, p in enumerate(paths)})


def seed_aws_strings(servers: LocalServers, region: str, values: dict[str, str]) -> None:
    """Create Secrets Manager secrets ``name -> SecretString`` in moto."""
    client = aws_client(servers, region)
    run_concurrently(
        lambda item: client.create_secret(Name=item[0], SecretString=item[1]), values.items()
    )


class FreshRegions:
    """Hands out AWS regions not used before in this run: each holds an empty Secrets Manager
    (moto keeps one per region), so no reset of the shared server is needed."""

    def __init__(self) -> None:
        regions = boto3.session.Session().get_available_regions("secretsmanager")
        self._left = [r for r in regions if r != AWS_REGION]  # the tests' default region

    def take(self) -> str:
        if not self._left:
            raise RuntimeError("no unused AWS region left for the benchmark")
        return self._left.pop(0)
