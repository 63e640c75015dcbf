"""The merge store's per-target state record (names and versions for write-only destinations),
on Vault and S3: absent at first, written and read back, check-and-set against its version,
kept apart from the merged secrets."""

from __future__ import annotations

import pytest

from airflow_secretsync.core.merge_store import replace_merged
from airflow_secretsync.errors import ConflictError
from tests.stores.conftest import unique

STATE = {"format": 1, "secrets": {"app/db": {"pushed_version": 3}}}


@pytest.fixture(params=["vault", "s3"])
def merge_store(request, factory, aws_client):
    if request.param == "vault":
        merge = {"vault": {"path": unique("merged")}}
    else:
        bucket = unique("state")
        aws_client("s3").create_bucket(Bucket=bucket)
        merge = {"s3": {"bucket": bucket, "prefix": "m/"}}
    made = factory(
        merge_store=merge,
        sources={"src": {"vault": {"path": unique("src")}}},
        targets={"Base": ["src"], "Other": ["src"]},
    )
    return made.merge_store


def test_state_record_round_trip_with_check_and_set(merge_store) -> None:
    store = merge_store("Base")
    assert store.read_state() == (None, None)
    store.write_state(STATE, None)
    state, version = store.read_state()
    assert state == STATE
    with pytest.raises(ConflictError):
        store.write_state({"format": 1, "secrets": {}}, None)  # someone wrote it meanwhile
    store.write_state({"format": 1, "secrets": {}}, version)
    assert store.read_state()[0] == {"format": 1, "secrets": {}}
    with pytest.raises(ConflictError):
        store.write_state(STATE, version)  # stale version
    assert merge_store("Other").read_state() == (None, None)  # one record per target


def test_state_record_is_not_a_merged_secret(merge_store) -> None:
    store = merge_store("Base")
    replace_merged(store, {"a": {"v": 1}}, owner="p/Base")
    store.write_state(STATE, None)
    assert set(merge_store("Base").list_secrets()) == {"a"}
    replace_merged(merge_store("Base"), {}, owner="p/Base")  # removing every secret
    assert merge_store("Base").read_state()[0] == STATE  # leaves the record alone
