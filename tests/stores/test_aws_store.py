"""The AWS Secrets Manager store against the real moto server."""

from __future__ import annotations

import json
import logging
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from airflow_secretsync.core.merge_store import replace_merged
from airflow_secretsync.errors import ConflictError, StoreError
from airflow_secretsync.stores.base import SecretWrite
from tests.stores.conftest import CANARY, unique

MANAGED = {"Key": "managed-by", "Value": "airflow-secretsync"}


@pytest.fixture
def sm(aws_client):
    """A raw Secrets Manager client on moto, to arrange and inspect."""
    return aws_client("secretsmanager")


@pytest.fixture
def prefix() -> str:
    return unique("aws") + "/"


def destination(factory, prefix: str, **settings):
    made = factory(targets={"T": {"aws": {"prefix": prefix, **settings}}})
    return made.destination("T")


def tags_of(sm, name: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in sm.describe_secret(SecretId=name).get("Tags", [])}


def count_calls(client) -> Counter:
    """Count the API calls ``client`` makes (a botocore event hook, no patching)."""
    calls: Counter = Counter()
    client.meta.events.register(
        "before-call.secretsmanager.*", lambda model, **kwargs: calls.update([model.name])
    )
    return calls


def test_lists_values_ownership_and_skips_other_prefixes_and_pending_deletion(
    factory, sm, prefix
) -> None:
    sm.create_secret(Name=f"{prefix}json", SecretString='{"user": "svc", "n": 1}', Tags=[MANAGED])
    sm.create_secret(Name=f"{prefix}plain", SecretString="not json {")
    sm.create_secret(Name=f"{prefix}list", SecretString="[1, 2]")
    sm.create_secret(Name=f"{prefix}bin", SecretBinary=b"\x00\xffbinary")
    sm.create_secret(Name=f"{prefix}gone", SecretString="x")
    sm.delete_secret(SecretId=f"{prefix}gone", RecoveryWindowInDays=7)
    sm.create_secret(Name=f"{prefix.rstrip('/')}-other/x", SecretString="x")

    secrets = destination(factory, prefix).list_secrets()

    assert {p: s.value for p, s in secrets.items()} == {
        "json": {"user": "svc", "n": 1},
        "plain": "not json {",
        "list": "[1, 2]",
        "bin": b"\x00\xffbinary",
    }
    assert secrets["json"].managed
    assert not secrets["plain"].managed
    assert secrets["json"].version.name == f"{prefix}json"


def test_create_sets_tags_and_kms_key_then_put_only_changes_the_value(factory, sm, prefix) -> None:
    store = destination(factory, prefix, kms_key_id="alias/secretsync", tags={"team": "data"})
    store.write(SecretWrite("app/db", {"host": "a"}), owner="Prod")
    name = f"{prefix}app/db"

    described = sm.describe_secret(SecretId=name)
    assert described["KmsKeyId"] == "alias/secretsync"
    assert tags_of(sm, name) == {
        "team": "data",
        "managed-by": "airflow-secretsync",
        "secretsync-owner": "Prod",
    }

    current = store.list_secrets()["app/db"]
    calls = count_calls(store.client)
    store.write(SecretWrite("app/db", {"host": "b"}, current), owner="Prod")

    assert json.loads(sm.get_secret_value(SecretId=name)["SecretString"]) == {"host": "b"}
    assert calls["PutSecretValue"] == 1
    assert calls["CreateSecret"] == 0
    assert len(sm.list_secret_version_ids(SecretId=name)["Versions"]) == 2


def test_unchanged_secrets_are_not_written(factory, sm, prefix) -> None:
    store = destination(factory, prefix)
    replace_merged(store, {"a": {"x": 1}, "b": "text"}, owner="T")
    calls = count_calls(store.client)

    replace_merged(store, {"a": {"x": 1.0}, "b": "text"}, owner="T")

    assert calls["PutSecretValue"] == 0
    assert calls["CreateSecret"] == 0
    assert len(sm.list_secret_version_ids(SecretId=f"{prefix}a")["Versions"]) == 1


def test_writing_a_name_pending_deletion_restores_it_first(factory, sm, prefix) -> None:
    name = f"{prefix}restored"
    sm.create_secret(Name=name, SecretString='{"old": 1}')
    sm.delete_secret(SecretId=name, RecoveryWindowInDays=7)
    store = destination(factory, prefix)
    assert store.list_secrets() == {}

    store.write(SecretWrite("restored", {"new": 2}), owner="T")

    described = sm.describe_secret(SecretId=name)
    assert "DeletedDate" not in described
    assert json.loads(sm.get_secret_value(SecretId=name)["SecretString"]) == {"new": 2}
    assert tags_of(sm, name)["managed-by"] == "airflow-secretsync"
    assert store.list_secrets()["restored"].managed


def test_slash_spelling_is_the_same_secret_and_is_replaced(factory, sm, prefix) -> None:
    sm.create_secret(Name=f"/{prefix}db", SecretString='{"v": 1}', Tags=[MANAGED])
    store = destination(factory, prefix, force_delete=True)
    current = store.list_secrets()
    assert current["db"].version.name == f"/{prefix}db"

    store.write(SecretWrite("db", {"v": 2}, current["db"]), owner="T")

    assert json.loads(sm.get_secret_value(SecretId=f"{prefix}db")["SecretString"]) == {"v": 2}
    with pytest.raises(sm.exceptions.ResourceNotFoundException):
        sm.describe_secret(SecretId=f"/{prefix}db")
    assert list(store.list_secrets()) == ["db"]


def test_when_both_spellings_exist_the_configured_one_wins(factory, sm, prefix) -> None:
    sm.create_secret(Name=f"/{prefix}db", SecretString="slash")
    sm.create_secret(Name=f"{prefix}db", SecretString="plain")
    secrets = destination(factory, prefix).list_secrets()
    assert secrets["db"].value == "plain"
    assert secrets["db"].version.name == f"{prefix}db"

    slash_prefix = destination(factory, f"/{prefix}").list_secrets()
    assert slash_prefix["db"].value == "slash"


def test_create_conflicts_with_a_secret_created_after_the_read(factory, sm, prefix) -> None:
    store = destination(factory, prefix)
    assert store.list_secrets() == {}
    sm.create_secret(Name=f"{prefix}race", SecretString="theirs")

    with pytest.raises(ConflictError, match="'race'"):
        store.write(SecretWrite("race", "ours"), owner="T")
    assert sm.get_secret_value(SecretId=f"{prefix}race")["SecretString"] == "theirs"


def test_delete_uses_the_recovery_window(factory, sm, prefix) -> None:
    store = destination(factory, prefix, recovery_window_days=7)
    store.write(SecretWrite("old", "x"), owner="T")

    store.delete(store.list_secrets()["old"])

    described = sm.describe_secret(SecretId=f"{prefix}old")
    window = described["DeletedDate"] - described["LastChangedDate"]
    assert 6 <= window.days <= 7
    assert store.list_secrets() == {}


def test_force_delete_removes_at_once(factory, sm, prefix) -> None:
    store = destination(factory, prefix, force_delete=True)
    store.write(SecretWrite("old", "x"), owner="T")

    store.delete(store.list_secrets()["old"])

    with pytest.raises(sm.exceptions.ResourceNotFoundException):
        sm.describe_secret(SecretId=f"{prefix}old")


@pytest.mark.parametrize(
    "value",
    [
        b"\x00\x01\xfe\xff" * 100,
        "plain string, not JSON",
        '  {"looks": "like json"}  ',
        "[1, 2, 3]",
        {"grüße": "日本語 🔐", "nested": {"list": [1, 2.5, None, True]}},
        "ünïcödé ☃ text",
        {"blob": "x" * 65_000},
        "y" * 65_536,
    ],
    ids=["binary", "plain", "json-text", "json-list", "unicode-dict", "unicode", "64k-dict", "64k"],
)
def test_values_round_trip_unchanged(factory, sm, prefix, value) -> None:
    store = destination(factory, prefix)
    store.write(SecretWrite("v", value), owner="T")

    read = store.list_secrets()["v"].value

    assert read == store.to_stored(value)
    if isinstance(value, bytes):
        assert sm.get_secret_value(SecretId=f"{prefix}v")["SecretBinary"] == value
    elif isinstance(value, str):
        assert sm.get_secret_value(SecretId=f"{prefix}v")["SecretString"] == value
        assert read == (json.loads(value) if value.strip().startswith("{") else value)


def test_a_thousand_secrets_cost_few_list_and_batch_calls(factory, sm, prefix) -> None:
    names = [f"{prefix}app/{i:04d}" for i in range(1000)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda n: sm.create_secret(Name=n, SecretString=f'{{"i": "{n}"}}'), names))
    store = destination(factory, prefix)
    calls = count_calls(store.client)

    secrets = store.list_secrets()

    assert len(secrets) == 1000
    assert secrets["app/0999"].value == {"i": f"{prefix}app/0999"}
    assert calls["ListSecrets"] <= 10
    assert calls["BatchGetSecretValue"] <= 50
    assert calls["GetSecretValue"] == 0


def test_account_id_mismatch_is_refused(factory, prefix) -> None:
    made = factory(targets={"T": {"aws": {"prefix": prefix, "account_id": "999999999999"}}})
    with pytest.raises(StoreError, match=r"account 123456789012.*expects account_id 999999999999"):
        made.destination("T")


def test_role_arn_is_assumed_through_sts(factory, servers, airflow_conn, sm, prefix) -> None:
    conn = airflow_conn(
        "aws_assume",
        conn_type="aws",
        login="testing",
        password="testing",
        extra={
            "endpoint_url": servers.aws.url,
            "region_name": "us-east-1",
            "service_config": {"sts": {"endpoint_url": servers.aws.url}},
        },
    )
    made = factory(
        targets={
            "T": {
                "aws": {
                    "prefix": prefix,
                    "connection_id": conn,
                    "role_arn": "arn:aws:iam::111111111111:role/secretsync",
                    "account_id": "111111111111",
                }
            }
        }
    )
    store = made.destination("T")
    store.write(SecretWrite("cross", "account"), owner="T")

    assert ":111111111111:" in store.list_secrets()["cross"].version.arn
    assert sm.list_secrets(Filters=[{"Key": "name", "Values": [prefix]}])["SecretList"] == []


def test_region_override_and_adaptive_retries(factory, prefix) -> None:
    store = destination(factory, prefix, region="eu-west-1")
    assert store.client.meta.region_name == "eu-west-1"
    assert store.description == f"aws-secretsmanager://eu-west-1/{prefix}"
    assert store.client.meta.config.retries["mode"] == "adaptive"


def test_server_down_gives_one_clear_error(factory, airflow_conn, prefix) -> None:
    from devtools.servers import free_port

    port = free_port()
    conn = airflow_conn(
        "aws_down",
        conn_type="aws",
        login="testing",
        password="testing",
        extra={
            "endpoint_url": f"http://127.0.0.1:{port}",
            "region_name": "us-east-1",
            "config_kwargs": {"retries": {"max_attempts": 1}},
        },
    )
    store = destination(factory, prefix, connection_id=conn)
    with pytest.raises(StoreError) as exc:
        store.list_secrets()
    assert f"cannot reach http://127.0.0.1:{port}" in str(exc.value)
    assert str(exc.value).startswith(f"aws-secretsmanager://us-east-1/{prefix}: ListSecrets")
    assert exc.value.__suppress_context__


def test_undefined_connection_is_an_error(factory, prefix) -> None:
    expected = r"AWS connection 'aws_nowhere' is not defined: .*AIRFLOW_CONN_AWS_NOWHERE.*UI"
    with pytest.raises(StoreError, match=expected):
        destination(factory, prefix, connection_id="aws_nowhere")


def test_nothing_leaks_into_logs_errors_or_reprs(factory, sm, prefix, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="airflow_secretsync")
    sm.create_secret(Name=f"{prefix}s", SecretString=json.dumps({"password": CANARY}))
    store = destination(factory, prefix)
    secrets = store.list_secrets()
    sm.create_secret(Name=f"{prefix}taken", SecretString=CANARY)
    with pytest.raises(ConflictError) as exc:
        store.write(SecretWrite("taken", {"password": CANARY}), owner="T")

    assert secrets["s"].value == {"password": CANARY}
    assert CANARY not in caplog.text
    assert CANARY not in str(exc.value)
    assert CANARY not in repr(secrets)
    assert CANARY not in repr(store)


def test_empty_value_is_refused_clearly(factory, sm, prefix) -> None:
    store = destination(factory, prefix)
    with pytest.raises(StoreError, match="'empty': Secrets Manager cannot store an empty value"):
        store.write(SecretWrite("empty", ""), owner="T")
    assert store.list_secrets() == {}


def test_secret_deleted_between_listing_and_reading_is_not_current(factory, sm, prefix) -> None:
    sm.create_secret(Name=f"{prefix}stays", SecretString="a")
    sm.create_secret(Name=f"{prefix}goes", SecretString="b")
    store = destination(factory, prefix)

    def delete_meanwhile(**kwargs) -> None:  # returning None lets the real call go on
        sm.delete_secret(SecretId=f"{prefix}goes", RecoveryWindowInDays=7)

    store.client.meta.events.register(
        "before-call.secretsmanager.BatchGetSecretValue", delete_meanwhile
    )

    assert {p: s.value for p, s in store.list_secrets().items()} == {"stays": "a"}
