"""Awkward secret values go through merge and sync unchanged: 64 KB, empty, non-UTF-8 binary,
deeply nested JSON, newlines, NUL and unicode; where a destination cannot hold one by design
(binary in Vault KV), the target fails with a clear error naming the secret. A second run is
zero-sum: the values are compared the way the destination stores them."""

from __future__ import annotations

import json
from pathlib import Path

import hvac
import pytest

from tests.helpers import read_vault, seed_aws, seed_vault, unique, write_config
from tests.reliability.cli import secretsync

AWS_LIMIT = 65536  # bytes of SecretString / SecretBinary
TEXT = 'line 1\nline 2\r\n\ttab, NUL \x00, ünïcødé, 🎉, \u2028 separator, \\ and " quotes'
DEPTH = 256


def nested(depth: int) -> dict:
    value: object = ["leaf", 1.5, None, True]
    for level in range(depth):
        value = {f"k{level}": value, "n": level}
    return value


def exactly(size: int, key: str = "big") -> dict:
    """A JSON object whose JSON text (as stored in AWS) is ``size`` bytes, multi-byte chars
    included."""
    head = json.dumps({key: "é"}, ensure_ascii=False).encode()
    filler = "é" * ((size - len(head)) // 2) + "x" * ((size - len(head)) % 2)
    value = {key: "é" + filler}
    assert len(json.dumps(value, ensure_ascii=False).encode()) == size
    return value


#: Vault source values (KV v2 holds JSON objects).
FROM_VAULT = {
    "huge": exactly(AWS_LIMIT),
    "empty": {},
    "empty-field": {"k": ""},
    "nested": nested(DEPTH),
    "text": {"text": TEXT, "unicode-key-ключ": "значение"},
}
#: AWS source values: strings exactly as stored, bytes as SecretBinary.
FROM_AWS = {
    "huge": "é" * (AWS_LIMIT // 2),
    "binary": bytes(range(256)) * 255 + b"\xff\xfe\x00",
    "nested": json.dumps(nested(DEPTH), ensure_ascii=False),
    "text": TEXT,
    "json-text": json.dumps({"text": TEXT}, ensure_ascii=False),
    "not-quite-json": '{"broken": ',
}

CONFIG = """
version: 1
merge_store: {merge_store}
sources:
  vaulted: {{vault: {{path: {ns}/src}}}}
  aws: {{aws: {{prefix: {ns}/src/}}}}
targets:
  VaultToAws:
    imports: [vaulted]
    aws: {{prefix: {ns}/vault-to-aws/}}
  AwsToAws:
    imports: [aws]{aws_filter}
    aws: {{prefix: {ns}/aws-to-aws/}}
  AwsToVault:
    imports: [aws]
    exclude: ["^binary$"]
    vault: {{path: {ns}/aws-to-vault}}
  BinaryToVault:
    imports: [aws]
    include: ["^binary$"]
    vault: {{path: {ns}/binary-to-vault}}
"""


@pytest.fixture
def world(servers, vault_client, aws_client, tmp_path: Path) -> dict:
    ns = unique("val")
    sm = aws_client("secretsmanager")
    seed_vault(vault_client, f"{ns}/src", FROM_VAULT)
    seed_aws(sm, {f"{ns}/src/{name}": value for name, value in FROM_AWS.items()})
    bucket = unique("bucket")
    aws_client("s3").create_bucket(Bucket=bucket)
    return {"ns": ns, "sm": sm, "s3": aws_client("s3"), "bucket": bucket, "tmp": tmp_path}


def raw_aws(sm, prefix: str) -> dict[str, str | bytes]:
    """Secret values exactly as stored (no JSON parsing)."""
    names = [
        s["Name"]
        for page in sm.get_paginator("list_secrets").paginate(
            Filters=[{"Key": "name", "Values": [prefix]}]
        )
        for s in page["SecretList"]
    ]
    values = {}
    for name in names:
        value = sm.get_secret_value(SecretId=name)
        values[name[len(prefix) :]] = value.get("SecretString", value.get("SecretBinary"))
    return values


def as_json_or_text(value: str | bytes):
    """What a reader of the destination gets: a JSON object parsed, anything else as is."""
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return value
        return parsed if isinstance(parsed, dict) else value
    return value


@pytest.mark.parametrize("merge_store", ["s3", "vault"])
def test_awkward_values_round_trip(world, vault_client: hvac.Client, merge_store: str) -> None:
    ns = world["ns"]
    if merge_store == "s3":  # binary is kept base64-encoded in the merge object
        store, aws_filter = f"{{s3: {{bucket: {world['bucket']}, prefix: {ns}/}}}}", ""
        binary_error = f"vault://secret/{ns}/binary-to-vault 'binary'"
    else:  # a Vault merge store cannot hold binary either
        store, aws_filter = f"{{vault: {{path: {ns}/merged}}}}", '\n    exclude: ["^binary$"]'
        binary_error = f"merge failed: vault://secret/{ns}/merged/BinaryToVault 'binary'"
    text = CONFIG.format(ns=ns, merge_store=store, aws_filter=aws_filter)
    config = write_config(world["tmp"], text)

    first = secretsync("pipeline", "--config", config, "--output", "json")

    # what the user was told: only the impossible combination failed, naming the secret
    statuses = {t["target"]: (t["status"], t["error"]) for t in first.report["targets"]}
    assert statuses.pop("BinaryToVault") == (
        "failed",
        f"{binary_error}: a binary value cannot be stored in Vault KV v2 (JSON objects only)",
    )
    assert statuses == dict.fromkeys(statuses, ("success", None))
    assert first.code == 2
    assert read_vault(vault_client, f"{ns}/binary-to-vault") == {}

    # what was written: every value as it was in its source
    vault_to_aws = raw_aws(world["sm"], f"{ns}/vault-to-aws/")
    assert {k: as_json_or_text(v) for k, v in vault_to_aws.items()} == FROM_VAULT
    assert len(vault_to_aws["huge"].encode()) == AWS_LIMIT
    aws_to_aws = raw_aws(world["sm"], f"{ns}/aws-to-aws/")
    expected_aws = dict(FROM_AWS)
    if merge_store == "vault":
        del expected_aws["binary"]
    for name, value in expected_aws.items():  # text and binary byte for byte, JSON by value
        if isinstance(as_json_or_text(value), dict):
            assert json.loads(aws_to_aws.pop(name)) == json.loads(value), name
        else:
            assert aws_to_aws.pop(name) == value, name
    assert aws_to_aws == {}
    in_vault = read_vault(vault_client, f"{ns}/aws-to-vault")
    for name, value in FROM_AWS.items():
        if name != "binary":
            parsed = as_json_or_text(value)
            assert in_vault.pop(name) == (parsed if isinstance(parsed, dict) else {"value": value})
    assert in_vault == {}

    second = secretsync("pipeline", "--config", config, "--output", "json")
    changed = {
        t["target"]: t["summary"]
        for t in second.report["targets"]
        if t["target"] != "BinaryToVault"
    }
    assert all(s["added"] == s["modified"] == s["removed"] == 0 for s in changed.values()), changed
