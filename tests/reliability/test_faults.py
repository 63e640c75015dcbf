"""Faults: OpenBao stopped in the middle of a sync, AWS throttling, one target's bad credentials.

Each scenario checks what was written, what was not, and what the user was told.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import hvac
import pytest

from devtools.proxy import FaultProxy, Reply, Request
from tests.helpers import read_aws, read_vault, seed_aws, seed_vault, unique, write_config
from tests.reliability.cli import secretsync

#: k01, k03... come from Vault (JSON objects), k02, k04... from AWS (plain strings).
VAULT_SOURCE = {f"k{i:02}": {"user": f"u{i}", "port": 5000 + i} for i in (1, 3, 5, 7)}
AWS_SOURCE = {f"k{i:02}": f"plain text {i}\nsecond line" for i in (2, 4, 6, 8)}
DESIRED = {**VAULT_SOURCE, **AWS_SOURCE}

CONFIG = """
version: 1
connections: {{aws: {aws_conn}}}
pipeline:
  sync: {{parallel: {parallel}, delete_orphans: true}}
merge_store: {{vault: {{path: {ns}/merged}}}}
sources:
  platform: {{vault: {{path: {ns}/src}}}}
  legacy: {{aws: {{prefix: {ns}/legacy/}}}}
targets:
  Vaulted:
    imports: [platform, legacy]
    vault: {{path: {ns}/dest, connection_id: {vault_conn}}}
  Mirrored:
    imports: [platform, legacy]
    aws: {{prefix: {ns}/mirror/}}
"""


@pytest.fixture
def world(servers, vault_client, aws_client, tmp_path: Path):
    ns = unique("flt")
    seed_vault(vault_client, f"{ns}/src", VAULT_SOURCE)
    seed_aws(aws_client("secretsmanager"), {f"{ns}/legacy/{k}": v for k, v in AWS_SOURCE.items()})

    def config(
        vault_conn: str = "vault_default", aws_conn: str = "aws_default", parallel: int = 1
    ) -> Path:
        text = CONFIG.format(ns=ns, vault_conn=vault_conn, aws_conn=aws_conn, parallel=parallel)
        return write_config(tmp_path, text)

    return {"ns": ns, "config": config, "sm": aws_client("secretsmanager")}


def raw_secrets(client: hvac.Client, path: str) -> dict[str, tuple[dict, dict]]:
    """``{relative path: (KV data, custom_metadata)}`` of every secret under ``path``."""
    out = {}
    for rel in client.secrets.kv.v2.list_secrets(mount_point="secret", path=path)["data"]["keys"]:
        meta = client.secrets.kv.v2.read_secret_metadata(mount_point="secret", path=f"{path}/{rel}")
        if not meta["data"]["current_version"]:  # ownership recorded, the value never came
            continue
        data = client.secrets.kv.v2.read_secret_version(
            mount_point="secret", path=f"{path}/{rel}", raise_on_deleted_version=True
        )["data"]["data"]
        out[rel] = (data, meta["data"]["custom_metadata"] or {})
    return out


def as_stored_in_vault(value: dict | str, target: str) -> tuple[dict, dict]:
    """The KV data and ownership metadata the tool writes for ``value``."""
    owned = {
        "managed-by": "airflow-secretsync",
        "secretsync-owner": f"secretsync_pipeline/{target}",
    }
    if isinstance(value, str):
        return {"value": value}, {**owned, "secretsync-value": "string"}
    return value, owned


@pytest.mark.parametrize("stop_after", ["data", "metadata"])
def test_openbao_stopped_mid_sync_fails_the_target_then_the_retry_converges(
    world, persistent_bao, airflow_conn, stop_after: str
) -> None:
    """The server dies right after the 2nd secret's data (or ownership metadata, written
    before the data) write landed: whatever landed is owned."""
    ns = world["ns"]
    dest = f"{ns}/dest"
    stopped = threading.Event()
    method, kind = "POST", stop_after
    landed: list[str] = []

    def stop_on_second_write(request: Request, status: int) -> None:
        if request.method == method and request.path.startswith(f"/v1/secret/{kind}/{dest}/"):
            landed.append(request.path.rsplit("/", 1)[-1])
            if len(landed) == 2 and status < 300:
                persistent_bao.stop()
                stopped.set()

    with FaultProxy(persistent_bao.url, observe=stop_on_second_write) as proxy:
        airflow_conn("vault_fault", persistent_bao.connection_uri(port=proxy.port))
        config = world["config"]("vault_fault")
        failed = secretsync("pipeline", "--config", config, "--output", "json")

    # the user is told: exit 2, one failed target named with its location, no traceback
    assert stopped.is_set()
    assert landed[:2] == ["k01", "k02"]
    assert failed.code == 2
    assert "Traceback" not in failed.err
    vaulted = failed.target("Vaulted")
    assert vaulted["status"] == "failed"
    assert vaulted["error"].startswith(f"vault://secret/{dest} '")
    assert "(connection 'vault_fault' at http://127.0.0.1:" in vaulted["error"]
    assert vaulted["error"].endswith("cannot reach Vault (ConnectionError)")
    # nothing of the half-written target is reported as done; its sibling is
    assert vaulted["summary"]["total"] == 0
    assert vaulted["changes"] == []
    assert failed.target("Mirrored")["status"] == "success"
    assert failed.report["summary"]["added"] == len(DESIRED)
    assert read_aws(world["sm"], f"{ns}/mirror/") == DESIRED

    persistent_bao.start()  # same port, same storage: the half-written state is still there
    client = hvac.Client(url=persistent_bao.url, token=persistent_bao.token)
    partial = raw_secrets(client, dest)
    landed_values = {"k01", "k02"} if stop_after == "data" else {"k01"}
    assert set(partial) == landed_values
    assert partial == {k: as_stored_in_vault(DESIRED[k], "Vaulted") for k in landed_values}

    # the retry (straight to the restarted server) converges and owns every secret it wrote
    airflow_conn("vault_fault", persistent_bao.connection_uri())
    retried = secretsync("pipeline", "--config", config, "--output", "json")
    assert retried.code == 0, retried.out + retried.err
    assert retried.target("Vaulted")["status"] == "success"
    assert retried.target("Mirrored")["summary"]["unchanged"] == len(DESIRED)
    assert raw_secrets(client, dest) == {
        k: as_stored_in_vault(v, "Vaulted") for k, v in DESIRED.items()
    }
    again = secretsync("pipeline", "--config", config, "--output", "json", "--exit-code")
    assert again.code == 0
    assert again.report["summary"]["unchanged"] == 2 * len(DESIRED)


def throttle_first_attempts(share: int):
    """Answer every ``share``-th first attempt of a Secrets Manager call with AWS's
    ``ThrottlingException``; retries (``amz-sdk-request: attempt=2+``) always go through."""
    lock = threading.Lock()
    seen = {"first_attempts": 0}

    def intercept(request: Request) -> Reply | None:
        target = request.headers.get("X-Amz-Target", "")
        if not target.startswith("secretsmanager."):
            return None
        if not request.headers.get("amz-sdk-request", "").startswith("attempt=1;"):
            return None
        with lock:
            seen["first_attempts"] += 1
            throttle = seen["first_attempts"] % share == 1
        if not throttle:
            return None
        body = {"__type": "ThrottlingException", "message": "Rate exceeded"}
        headers = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": unique()}
        return Reply(400, headers, json.dumps(body).encode())

    return intercept, seen


def test_aws_throttling_is_retried_and_the_sync_completes(
    world, servers, airflow_conn, aws_connection
) -> None:
    """A third of the first attempts of Secrets Manager calls (reads and writes) are throttled."""
    ns = world["ns"]
    intercept, seen = throttle_first_attempts(share=3)
    with FaultProxy(servers.aws.url, intercept=intercept) as proxy:
        extra = {**aws_connection["extra"], "endpoint_url": proxy.url}
        airflow_conn("aws_throttled", {**aws_connection, "extra": extra})
        config = world["config"](aws_conn="aws_throttled", parallel=8)
        result = secretsync(
            "pipeline", "--config", config, "--output", "json", "--targets", "Mirrored"
        )
        # every Secrets Manager call of the sync went through the proxy, a third throttled
        assert proxy.intercepted == (seen["first_attempts"] + 2) // 3 >= 3
        assert proxy.forwarded > proxy.intercepted

    assert result.code == 0, result.out + result.err
    assert result.target("Mirrored")["summary"]["added"] == len(DESIRED)
    assert read_aws(world["sm"], f"{ns}/mirror/") == DESIRED
    tags = {
        t["Key"]: t["Value"]
        for t in world["sm"].describe_secret(SecretId=f"{ns}/mirror/k02")["Tags"]
    }
    assert tags["managed-by"] == "airflow-secretsync"


def test_wrong_credentials_fail_only_their_target(
    world, servers, airflow_conn, vault_client
) -> None:
    ns = world["ns"]
    fields = json.loads(servers.vault.connection_uri())
    airflow_conn("vault_wrong_token", {**fields, "password": "not-the-token"})
    seed_vault(vault_client, f"{ns}/dest", {"k01": {"user": "kept"}})
    result = secretsync(
        "pipeline", "--config", world["config"]("vault_wrong_token"), "--output", "json"
    )
    assert result.code == 2
    assert "Traceback" not in result.err
    vaulted = result.target("Vaulted")
    assert vaulted["status"] == "failed"
    assert vaulted["error"] == (
        f"Vault connection 'vault_wrong_token': Vault at {servers.vault.url} "
        "rejected the credentials (authentication failed)"
    )
    assert result.target("Mirrored")["status"] == "success"
    assert read_aws(world["sm"], f"{ns}/mirror/") == DESIRED
    assert read_vault(vault_client, f"{ns}/dest") == {"k01": {"user": "kept"}}
