"""StoreFactory: which store each config block gives, shared clients, clear set-up errors."""

from __future__ import annotations

import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from airflow_secretsync.errors import ConfigError, MissingExtraError, StoreError
from airflow_secretsync.stores.aws.store import AwsSecretsStore
from airflow_secretsync.stores.s3.store import S3MergeStore
from airflow_secretsync.stores.vault.store import VaultStore
from devtools.proxy import FaultProxy

SECTIONS = {
    "sources": {
        "team-a": {"vault": {"mount": "secret", "path": "team-a"}},
        "legacy": {"aws": {"prefix": "legacy/", "region": "eu-west-1"}},
    },
    "targets": {
        "Base": ["team-a"],
        "Staging": {"inherits": "Base", "aws": {"region": "us-east-1", "prefix": "stg/"}},
        "Production": {"inherits": "Staging", "vault": {"mount": "secret", "path": "prod"}},
    },
}


def test_each_block_gives_its_store(factory) -> None:
    made = factory(**SECTIONS, merge_store={"s3": {"bucket": "merge-bucket"}})

    team_a, legacy = made.source("team-a"), made.source("legacy")
    staging, production = made.destination("Staging"), made.destination("Production")
    merged = made.merge_store("Staging")

    assert isinstance(team_a, VaultStore)
    assert team_a.description == "vault://secret/team-a"
    assert isinstance(legacy, AwsSecretsStore)
    assert legacy.description == "aws-secretsmanager://eu-west-1/legacy/"
    assert isinstance(staging, AwsSecretsStore)
    assert staging.description == "aws-secretsmanager://us-east-1/stg/"
    assert isinstance(production, VaultStore)
    assert production.description == "vault://secret/prod"
    assert made.destination("Base") is None
    assert isinstance(merged, S3MergeStore)
    assert merged.description == "s3://merge-bucket/secretsync/merged/targets/Staging.json"


def test_clients_are_shared_per_connection_region_and_role(factory) -> None:
    made = factory(**SECTIONS)
    with ThreadPoolExecutor(max_workers=8) as pool:
        vault_stores = list(pool.map(lambda _: made.source("team-a"), range(8)))
        aws_stores = list(pool.map(lambda _: made.destination("Staging"), range(8)))

    assert len({id(s.connection) for s in vault_stores}) == 1
    assert made.destination("Production").connection is vault_stores[0].connection
    assert len({id(s.client) for s in aws_stores}) == 1
    assert made.source("legacy").client is not aws_stores[0].client  # another region


def test_unset_connection_ids_fall_back_to_the_config_defaults(factory, airflow_conn) -> None:
    airflow_conn("vault_other", conn_type="vault", host="127.0.0.1", port=1, password="x")
    made = factory(**SECTIONS, connections={"vault": "vault_other"})
    with pytest.raises(StoreError, match="Vault connection 'vault_other': cannot reach Vault"):
        made.source("team-a")


def test_unknown_names_and_missing_merge_store_are_config_errors(factory) -> None:
    made = factory(**SECTIONS)
    with pytest.raises(ConfigError, match="unknown source 'nope'"):
        made.source("nope")
    with pytest.raises(ConfigError, match="unknown target 'nope'"):
        made.destination("nope")
    with pytest.raises(ConfigError, match="merge_store is not configured"):
        made.merge_store("Base")


def test_undefined_vault_connection_is_one_clear_error(factory) -> None:
    made = factory(sources={"s": {"vault": {"path": "x", "connection_id": "vault_missing"}}})
    expected = r"^Vault connection 'vault_missing' is not defined: .*AIRFLOW_CONN_VAULT_MISSING"
    with pytest.raises(StoreError, match=expected):
        made.source("s")


@pytest.mark.parametrize(
    ("module", "build", "extra"),
    [
        ("airflow.providers.hashicorp.hooks.vault", lambda f: f.source("team-a"), "hashicorp"),
        ("airflow.providers.amazon.aws.hooks.base_aws", lambda f: f.source("legacy"), "amazon"),
    ],
    ids=["vault", "aws"],
)
def test_missing_provider_extra_names_the_extra(factory, monkeypatch, module, build, extra):
    monkeypatch.setitem(sys.modules, module, None)  # what an uninstalled package looks like
    with pytest.raises(MissingExtraError, match=rf"pip install 'airflow-secretsync\[{extra}\]'"):
        build(factory(**SECTIONS))


def test_close_releases_clients_and_new_ones_can_be_made(factory) -> None:
    made = factory(**SECTIONS)
    first = made.destination("Staging").client
    made.close()
    assert made.destination("Staging").client is not first


SIZING = {
    "read_concurrency": 5,
    "merge": {"enabled": False, "parallel": 2},
    "sync": {"parallel": 3},
}


def test_vault_reads_and_connection_pool_follow_read_concurrency(factory) -> None:
    store = factory(**SECTIONS, pipeline=SIZING).source("team-a")
    adapter = store.connection.client.adapter.session.get_adapter(store.connection.url)

    assert store.workers == 5
    assert adapter._pool_maxsize == 5 * 3  # every store of the run at once
    assert adapter.max_retries.total == 2  # still the bounded retries


def test_aws_connection_pool_holds_reads_and_writes_in_flight(
    factory, airflow_conn, monkeypatch
) -> None:
    staging = factory(**SECTIONS, pipeline=SIZING).destination("Staging")
    assert staging.client.meta.config.max_pool_connections == (4 + 3) * 3

    fields = json.loads(os.environ["AIRFLOW_CONN_AWS_DEFAULT"])
    extra = {**fields.get("extra", {}), "config_kwargs": {"max_pool_connections": 7}}
    airflow_conn("aws_default", **{**fields, "extra": extra})
    own = factory(**SECTIONS, pipeline=SIZING).destination("Staging")
    assert own.client.meta.config.max_pool_connections == 7  # the connection's own wins
    assert own.client.meta.config.retries["mode"] == "adaptive"


@pytest.mark.parametrize("bypassed", [False, True])
def test_vault_requests_follow_the_proxy_variables(factory, servers, monkeypatch, bypassed) -> None:
    """The environment is read once per server, not per request: still as requests reads it."""
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    with FaultProxy(servers.vault.url) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        if bypassed:
            monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        store = factory(**SECTIONS).source("team-a")
        store.list_secrets()
        store.list_secrets()

    assert (proxy.forwarded > 0) is not bypassed


def test_aws_clients_of_different_runs_share_botocore_data(factory) -> None:
    """botocore's service models are parsed once per process, not once per client."""
    first = factory(**SECTIONS).destination("Staging").client
    second = factory(**SECTIONS).destination("Staging").client

    assert first is not second
    assert first._loader is second._loader
