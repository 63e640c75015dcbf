"""Bounded failure (SPEC §3a): a Vault destination killed or hung in the middle of a sync of
many secrets fails its target (queued writes cancelled, nothing deleted), while its sibling on
another store succeeds. The time to fail is measured for docs/reliability.md (printed with
``-s``), never asserted."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import hvac
import pytest

from devtools.proxy import FaultProxy, Reply, Request
from tests.helpers import read_aws, seed_vault, unique, write_config
from tests.reliability.cli import secretsync

SECRETS = {f"s{i:03}": {"n": i} for i in range(120)}
ORPHANS = {f"zz-orphan{i}": {"old": i} for i in range(3)}
PARALLEL = 8
LANDED_BEFORE_FAULT = 10

CONFIG = """
version: 1
pipeline:
  merge: {{enabled: false}}
  sync: {{parallel: {parallel}, delete_orphans: true, max_deletions: null}}
sources:
  app: {{vault: {{path: {ns}/src}}}}
targets:
  Vaulted:
    imports: [app]
    vault: {{path: {ns}/dest, connection_id: vault_faulty}}
  Mirrored:
    imports: [app]
    aws: {{prefix: {ns}/mirror/}}
"""


def seed_world(client: hvac.Client, ns: str) -> None:
    seed_vault(client, f"{ns}/src", SECRETS)
    seed_vault(client, f"{ns}/dest", ORPHANS)
    for rel in ORPHANS:  # owned by Vaulted: orphans it would delete after its writes
        client.secrets.kv.v2.update_metadata(
            mount_point="secret",
            path=f"{ns}/dest/{rel}",
            custom_metadata={
                "managed-by": "airflow-secretsync",
                "secretsync-owner": "secretsync_pipeline/Vaulted",
            },
        )


def with_values(client: hvac.Client, path: str) -> set[str]:
    """Secrets under ``path`` holding a value (a write cut short may leave an entry holding
    only its ownership metadata: listed, no version, created by the next run)."""
    keys = client.secrets.kv.v2.list_secrets(mount_point="secret", path=path)["data"]["keys"]
    return {
        key
        for key in keys
        if client.secrets.kv.v2.read_secret_metadata(mount_point="secret", path=f"{path}/{key}")[
            "data"
        ]["current_version"]
    }


def data_write(ns: str, request: Request) -> bool:
    return request.method == "POST" and request.path.startswith(f"/v1/secret/data/{ns}/dest/")


def run_timed(config: Path):
    """The CLI's result and when it ended (for the figures in docs/reliability.md)."""
    result = secretsync("pipeline", "--config", config, "--output", "json")
    return result, time.monotonic()


def assert_failed_alone(result, aws_client, ns: str) -> None:
    assert result.code == 2
    assert "Traceback" not in result.err
    vaulted = result.target("Vaulted")
    assert vaulted["status"] == "failed"
    assert vaulted["error"].startswith(f"vault://secret/{ns}/dest '")
    assert vaulted["changes"] == []
    assert result.target("Mirrored")["status"] == "success"
    assert read_aws(aws_client("secretsmanager"), f"{ns}/mirror/") == SECRETS


@pytest.mark.timeout(300)
def test_a_killed_openbao_fails_its_target_quickly_and_deletes_nothing(
    persistent_bao, airflow_conn, aws_client, tmp_path: Path
) -> None:
    ns = unique("kill")
    client = hvac.Client(url=persistent_bao.url, token=persistent_bao.token)
    seed_world(client, ns)
    landed: list[str] = []
    after_kill: list[str] = []
    killed = threading.Event()
    fault_at: list[float] = []

    def kill_after_some(request: Request, status: int) -> None:
        if data_write(ns, request) and status < 300:
            landed.append(request.path)
            if len(landed) == LANDED_BEFORE_FAULT:
                persistent_bao.stop()
                fault_at.append(time.monotonic())
                killed.set()

    def count_after_kill(request: Request) -> Reply | None:
        if killed.is_set() and data_write(ns, request):
            after_kill.append(request.path)
        return None

    config = write_config(tmp_path, CONFIG.format(ns=ns, parallel=PARALLEL))
    # the source is read from the same server, before the destination is written
    airflow_conn("vault_default", persistent_bao.connection_uri())
    with FaultProxy(
        persistent_bao.url, observe=kill_after_some, intercept=count_after_kill
    ) as proxy:
        airflow_conn("vault_faulty", persistent_bao.connection_uri(port=proxy.port))
        result, ended = run_timed(config)
    print(f"\nkilled OpenBao: run ended {ended - fault_at[0]:.1f} s after the kill")

    assert killed.is_set()
    assert_failed_alone(result, aws_client, ns)
    assert result.target("Vaulted")["error"].endswith("cannot reach Vault (ConnectionError)")
    # the first error cancelled the queue: only writes already under way were attempted
    assert len(after_kill) <= 3 * PARALLEL < len(SECRETS) - LANDED_BEFORE_FAULT
    persistent_bao.start()
    after = with_values(client, f"{ns}/dest")
    assert set(ORPHANS) <= after  # nothing deleted after the first error
    assert len(after) < len(SECRETS)


@pytest.mark.timeout(300)
def test_a_hung_openbao_fails_its_target_and_deletes_nothing(
    servers, vault_client, airflow_conn, aws_client, tmp_path: Path
) -> None:
    """After some writes the server accepts requests and never answers."""
    ns = unique("hung")
    seed_world(vault_client, ns)
    landed: list[str] = []
    hung: list[str] = []
    release = threading.Event()
    fault_at: list[float] = []

    def hang_after_some(request: Request) -> Reply | None:
        if not data_write(ns, request):
            return None
        if len(landed) < LANDED_BEFORE_FAULT:
            landed.append(request.path)
            return None
        hung.append(request.path)
        fault_at.append(time.monotonic())
        release.wait(120)
        return Reply(503, {}, b"")

    config = write_config(tmp_path, CONFIG.format(ns=ns, parallel=PARALLEL))
    with FaultProxy(servers.vault.url, intercept=hang_after_some) as proxy:
        fields = json.loads(servers.vault.connection_uri())
        airflow_conn("vault_faulty", {**fields, "port": proxy.port})
        try:
            result, ended = run_timed(config)
        finally:
            release.set()
    print(f"\nhung OpenBao: run ended {ended - fault_at[0]:.1f} s after the first hung request")

    assert_failed_alone(result, aws_client, ns)
    assert result.target("Vaulted")["error"].endswith("cannot reach Vault (ReadTimeout)")
    assert len(hung) <= PARALLEL  # the queue was cancelled, nothing retried into the hang
    after = with_values(vault_client, f"{ns}/dest")
    assert set(ORPHANS) <= after
    assert len(after) < len(SECRETS)
