"""The S3 merge store against the real moto server."""

from __future__ import annotations

import base64
import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest

from airflow_secretsync.core.merge_store import replace_merged
from airflow_secretsync.errors import StoreError
from airflow_secretsync.stores.base import SecretWrite
from tests.stores.conftest import CANARY, unique

SECRETS = {
    "app/db": {"password": CANARY, "port": 5432},
    "plain": "text ünïcödé ☃",
    "cert": b"\x00\x01binary\xff",
    "big": {"blob": "x" * 65_536},
}


@pytest.fixture
def s3(aws_client):
    return aws_client("s3")


@pytest.fixture
def bucket(s3) -> str:
    name = unique("bucket")
    s3.create_bucket(Bucket=name)
    return name


def merge_factory(factory, bucket: str, **s3_settings):
    return factory(
        sources={"src": {"aws": {"prefix": "src/"}}},
        targets={"Base": ["src"], "Staging": {"inherits": "Base", "imports": ["src"]}},
        merge_store={"s3": {"bucket": bucket, "prefix": "merged/", **s3_settings}},
    )


def count_puts(client) -> Counter:
    puts: Counter = Counter()
    client.meta.events.register(
        "before-parameter-build.s3.PutObject", lambda params, **kwargs: puts.update([params["Key"]])
    )
    return puts


def test_replace_merged_writes_one_object_with_one_put(factory, s3, bucket) -> None:
    store = merge_factory(factory, bucket).merge_store("Staging")
    puts = count_puts(store.client)

    replace_merged(store, SECRETS, owner="Staging")

    assert puts["merged/targets/Staging.json"] == 1
    body = s3.get_object(Bucket=bucket, Key="merged/targets/Staging.json")["Body"].read()
    document = json.loads(body)
    assert document["target"] == "Staging"
    assert document["secrets"]["app/db"] == {"password": CANARY, "port": 5432}
    assert base64.b64decode(document["binary"]["cert"]) == SECRETS["cert"]
    assert {p: s.value for p, s in store.list_secrets().items()} == SECRETS
    assert all(s.managed for s in store.list_secrets().values())


def test_replace_merged_drops_secrets_left_over_from_an_earlier_merge(factory, bucket) -> None:
    store = merge_factory(factory, bucket).merge_store("Base")
    replace_merged(store, SECRETS, owner="Base")
    replace_merged(store, {"only": {"v": 1}}, owner="Base")
    assert {p: s.value for p, s in store.list_secrets().items()} == {"only": {"v": 1}}


def test_manifest_lists_targets_counts_imports_and_times_without_values(
    factory, s3, bucket
) -> None:
    made = merge_factory(factory, bucket)
    replace_merged(made.merge_store("Base"), {"a": {"v": CANARY}}, owner="Base")
    replace_merged(made.merge_store("Staging"), SECRETS, owner="Staging")

    body = s3.get_object(Bucket=bucket, Key="merged/manifest.json")["Body"].read().decode()
    manifest = json.loads(body)

    assert CANARY not in body
    assert set(manifest["targets"]) == {"Base", "Staging"}
    staging = manifest["targets"]["Staging"]
    assert staging["object"] == "merged/targets/Staging.json"
    assert staging["secrets"] == len(SECRETS)
    assert staging["inherits"] == ["Base"]
    assert staging["imports"] == ["src"]
    assert datetime.fromisoformat(staging["merged_at"]).tzinfo is not None
    assert manifest["targets"]["Base"]["secrets"] == 1


def test_parallel_merges_keep_every_manifest_entry(factory, s3, bucket) -> None:
    targets = {f"T{i}": {"imports": ["src"]} for i in range(6)}
    made = factory(
        sources={"src": {"aws": {"prefix": "src/"}}},
        targets=targets,
        merge_store={"s3": {"bucket": bucket, "prefix": "m/"}},
    )
    with ThreadPoolExecutor(max_workers=6) as pool:
        list(
            pool.map(
                lambda t: replace_merged(made.merge_store(t), {"k": {"t": t}}, owner=t), targets
            )
        )

    manifest = json.loads(s3.get_object(Bucket=bucket, Key="m/manifest.json")["Body"].read())
    assert set(manifest["targets"]) == set(targets)


def test_objects_use_sse_s3_by_default(factory, s3, bucket) -> None:
    replace_merged(
        merge_factory(factory, bucket).merge_store("Base"), {"a": {"v": 1}}, owner="p/Base"
    )
    for key in ("merged/targets/Base.json", "merged/manifest.json"):
        assert s3.head_object(Bucket=bucket, Key=key)["ServerSideEncryption"] == "AES256"


def test_objects_use_sse_kms_when_a_key_is_set(factory, s3, bucket) -> None:
    made = merge_factory(factory, bucket, kms_key_id="alias/merge-store")
    replace_merged(made.merge_store("Base"), {"a": {"v": 1}}, owner="p/Base")
    for key in ("merged/targets/Base.json", "merged/manifest.json"):
        head = s3.head_object(Bucket=bucket, Key=key)
        assert head["ServerSideEncryption"] == "aws:kms"
        assert head["SSEKMSKeyId"].endswith("alias/merge-store")


def test_missing_object_is_an_empty_merge(factory, bucket) -> None:
    assert merge_factory(factory, bucket).merge_store("Base").list_secrets() == {}


def test_a_diff_is_applied_read_modify_write(factory, bucket) -> None:
    store = merge_factory(factory, bucket).merge_store("Base")
    replace_merged(store, {"a": {"v": 1}, "b": "x"}, owner="p/Base")

    store.apply([SecretWrite("c", b"\x01")], [store.list_secrets()["a"]], owner="p/Base")

    assert {p: s.value for p, s in store.list_secrets().items()} == {"b": "x", "c": b"\x01"}


def test_unreadable_object_and_missing_bucket_are_clear_errors(factory, s3, bucket) -> None:
    s3.put_object(Bucket=bucket, Key="merged/targets/Base.json", Body=b"{not json")
    with pytest.raises(StoreError, match=r"merged/targets/Base\.json: not valid JSON"):
        merge_factory(factory, bucket).merge_store("Base").list_secrets()

    store = merge_factory(factory, unique("no-bucket")).merge_store("Base")
    with pytest.raises(StoreError, match="GetObject: NoSuchBucket") as exc:
        replace_merged(store, {"a": {"v": CANARY}}, owner="p/Base")
    assert CANARY not in str(exc.value)
