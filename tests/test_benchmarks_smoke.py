"""Every benchmark runs at a tiny size against the session's servers: the results have the
expected structure and API call counts, and the page renders. No timing is asserted."""

from __future__ import annotations

import os
from types import SimpleNamespace

import boto3
import pytest
from markdown_it import MarkdownIt

from benchmarks.api_calls import vault_label
from benchmarks.lookups import GOAL_COLD_RATIO
from benchmarks.memory import MemoryResult
from benchmarks.report import COLD_NOTE, render, scaling_note
from benchmarks.results import Results, Settings
from benchmarks.run import run_all
from benchmarks.servers import start_moto_process
from benchmarks.sync import CHANGED, FIRST, STEADY
from benchmarks.timing import Runs

TINY = Settings(
    name="smoke",
    parse_targets=(2, 5),
    sync_sizes=(20,),
    scaling_sizes=(10, 20),
    memory_size=20,
    lookups=30,
    lookup_keys=3,
    runs=1,
    cold_runs=2,
    latency_size=20,
    latencies_ms=(0, 5),
    quota_size=60,
    large_memory_size=30,
)
VAULT_READS = {"Vault GET data": 20, "Vault LIST metadata": 2}  # root + one folder


@pytest.fixture(scope="module")
def results(servers, tmp_path_factory) -> Results:
    return run_all(servers, TINY, tmp_path_factory.mktemp("bench"), dict(os.environ))


def test_sync_scenarios_count_every_api_call(results: Results) -> None:
    first, steady, changed = results.sync
    assert [(r.size, r.scenario) for r in results.sync] == [
        (20, FIRST),
        (20, STEADY),
        (20, CHANGED),
    ]
    mount_check = {"Vault GET sys/internal/ui/mounts/secret": 1}
    assert first.product.calls == {
        "CreateSecret": 20,
        "ListSecrets": 1,
        **VAULT_READS,
        **mount_check,
    }
    assert steady.product.calls == {
        "BatchGetSecretValue": 1,
        "ListSecrets": 1,
        **VAULT_READS,
        **mount_check,
    }
    assert steady.minimum_calls == 24  # 2 LISTs, 20 reads, 1 ListSecrets, 1 batch
    assert changed.product.calls["PutSecretValue"] == 1  # 1% of 20: one secret
    assert first.baseline.calls == {"CreateSecret": 20, "GetSecretValue": 20, **VAULT_READS}
    assert steady.baseline.calls == {"GetSecretValue": 20, "PutSecretValue": 20, **VAULT_READS}
    for row in results.sync:
        assert len(row.product.wall_s) == len(row.baseline.cpu_s) == 1
        assert row.ratio > 0
    assert set(results.seed_s) == {10, 20}


def test_scaling_memory_and_parse_results(results: Results) -> None:
    assert sorted(results.scaling) == [10, 20]
    assert sorted(results.reads) == [10, 20]
    assert all(
        source_s > 0 and destination_s > 0 for source_s, destination_s in results.reads.values()
    )
    assert all(len(runs.wall_s) == 1 for runs in results.scaling.values())
    peak = results.memory
    assert peak.size == 20
    assert 0 < peak.imports_mb <= peak.first_sync_mb <= peak.steady_sync_mb
    # 2 targets: 2 merges, T0 syncs, report; 5 targets: 5 merges, T0 and T3 sync, report.
    assert [(r.targets, r.tasks) for r in results.dag_parse] == [(2, 4), (5, 8)]
    assert all(r.serialized_mb > 0 for r in results.dag_parse)
    assert [int(r["targets"]) for r in results.config_parse] == [2, 5]


def test_validate_runs_without_airflow(results: Results) -> None:
    """The example config, then a generated one of the largest parse size."""
    assert [(row.config, row.targets) for row in results.cli_validate] == [
        ("example.yaml", 5),
        ("generated, 5 targets", 5),
    ]
    assert all(row.wall_s > 0 and row.airflow_modules == 0 for row in results.cli_validate)
    assert "`secretsync validate` of example.yaml, a fresh process" in render(results)


def test_latency_scenarios_count_every_api_call(results: Results) -> None:
    assert [(row.latency_ms, row.size) for row in results.latency] == [(0, 20), (5, 20)]
    mount_check = {"Vault GET sys/internal/ui/mounts/secret": 1}
    for row in results.latency:
        assert row.first.calls == {
            "CreateSecret": 20,
            "ListSecrets": 1,
            **VAULT_READS,
            **mount_check,
        }
        assert row.steady.calls == {
            "BatchGetSecretValue": 1, "ListSecrets": 1, **VAULT_READS, **mount_check,
        }  # fmt: skip
        assert row.baseline_first.calls == {
            "CreateSecret": 20, "GetSecretValue": 20, **VAULT_READS,
        }  # fmt: skip
        assert row.baseline_steady.calls == {
            "GetSecretValue": 20, "PutSecretValue": 20, **VAULT_READS,
        }  # fmt: skip
    assert results.latency[0].steady_bound_s == 0
    # 23 Vault calls over 32 readers, 2 AWS reads over 4, 5 ms each
    assert results.latency[1].steady_bound_s == pytest.approx(0.005 * (23 / 32 + 2 / 4))


def test_quota_scenario_counts_what_the_proxy_let_through(results: Results) -> None:
    quotas = results.quotas
    assert quotas.failed_targets == 0
    assert quotas.allowed == {
        "first": {"CreateSecret": 60, "ListSecrets": 1},
        "steady": {"BatchGetSecretValue": 3, "ListSecrets": 1},
    }
    assert quotas.throttled.get("steady", {}) == {}
    assert quotas.quota_bound_s == pytest.approx(60 / 50)
    assert quotas.steady.calls["BatchGetSecretValue"] == 3


def test_large_memory_run(results: Results) -> None:
    large = results.large_memory
    assert large.size == 30
    assert 0 < large.imports_mb <= large.first_sync_mb <= large.steady_sync_mb
    assert large.steady_cpu_s > 0
    assert results.memory.steady_cpu_s > 0


def test_cached_lookups_make_no_call(results: Results) -> None:
    found = results.lookups
    assert found.chained.calls == {}
    assert found.amazon.calls == {"GetSecretValue": 30}
    assert len(found.cold_chained.wall_s) == len(found.cold_amazon.wall_s) == 2


def test_page_renders(results: Results) -> None:
    text = render(results)
    html = MarkdownIt("commonmark").enable("table").render(text)
    assert html.count("<table>") == 12
    assert html.count("<h1>") == 1
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings == [
        "## How it is measured",
        "## Goals",
        "## 1. DAG parse cost",
        "## 2. Sync throughput, Vault to AWS Secrets Manager",
        "## 3. Variable look-ups through a secrets backend",
        "## 4. Peak memory",
        "## 5. Scaling",
        "## 6. Network latency",
        "## 7. AWS quotas",
        "## 8. The CLI without Airflow",
    ]
    assert "None" not in text
    assert "nan" not in text
    assert results.environment.versions["OpenBao"] in text


@pytest.mark.parametrize(
    ("method", "url", "label"),
    [
        ("GET", "http://h:1/v1/secret/data/a/b", "Vault GET data"),
        ("LIST", "http://h:1/v1/kv/metadata/a/", "Vault LIST metadata"),
        ("GET", "http://h:1/v1/auth/token/lookup-self", "Vault GET auth/token/lookup-self"),
    ],
)
def test_vault_requests_are_labelled_by_endpoint(method: str, url: str, label: str) -> None:
    assert vault_label(method, url) == label


def test_a_missed_goal_is_marked_and_explained(results: Results) -> None:
    cold = results.lookups.cold_amazon
    saved = list(cold.wall_s)
    cold.wall_s[:] = [results.lookups.cold_chained.wall / 5] * len(saved)  # chained 5x slower
    try:
        text = render(results)
    finally:
        cold.wall_s[:] = saved
    assert (
        "| Cold (first) look-up vs SecretsManagerBackend | within 1.20x | 5.00x | **missed** |"
        in text
    )
    assert COLD_NOTE in text
    assert (COLD_NOTE in render(results)) == (results.lookups.cold_ratio > GOAL_COLD_RATIO)


@pytest.fixture(scope="module")
def patched_moto():
    """The benchmark's moto process (``benchmarks.moto_server``)."""
    server = start_moto_process()
    try:
        yield boto3.client("secretsmanager", endpoint_url=server.url, region_name="us-east-1")
    finally:
        server.stop()


def test_patched_moto_answers_as_moto_does(patched_moto) -> None:
    client = patched_moto
    arns = [client.create_secret(Name=f"p/s{i}", SecretString=f"v{i}")["ARN"] for i in range(5)]
    client.create_secret(Name="other/x", SecretString="x")
    assert client.get_secret_value(SecretId="p/s1")["SecretString"] == "v1"
    assert client.get_secret_value(SecretId=arns[2])["SecretString"] == "v2"  # full ARN
    assert client.get_secret_value(SecretId=arns[3][:-7])["SecretString"] == "v3"  # partial ARN
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_secret_value(SecretId="p/missing")
    with pytest.raises(client.exceptions.ResourceExistsException):
        client.create_secret(Name="p/s0", SecretString="again")
    batch = client.batch_get_secret_value(SecretIdList=[*arns[:2], "p/missing"])
    assert [v["SecretString"] for v in batch["SecretValues"]] == ["v0", "v1"]
    assert [e["SecretId"] for e in batch["Errors"]] == ["p/missing"]
    client.delete_secret(SecretId="p/s4")  # pending deletion: not listed
    pages = client.get_paginator("list_secrets").paginate(
        Filters=[{"Key": "name", "Values": ["p/"]}], PaginationConfig={"PageSize": 2}
    )
    listed = [[s["Name"] for s in page["SecretList"]] for page in pages]
    assert listed == [["p/s0", "p/s1"], ["p/s2", "p/s3"]]


def test_a_scaling_miss_is_explained_with_the_fresh_process_figure() -> None:
    """CPU growth in the benchmark process is set against section 4's fresh process at the
    same size, when that ran; the destination's read pacing is named either way."""
    per_secret = {1000: 0.001, 10000: 0.0016}
    scaling = {n: Runs(cpu_s=[s * n], wall_s=[s * n]) for n, s in per_secret.items()}
    fresh = MemoryResult(10000, 129, 165, 188, steady_cpu_s=11.0)

    with_fresh = scaling_note(SimpleNamespace(scaling=scaling, memory=fresh), 1.6, 1.6)
    without = scaling_note(SimpleNamespace(scaling=scaling, memory=None), 1.6, 1.6)

    assert "at least 5.00 s for 10,000" in with_fresh
    assert "cost 1.1 ms of CPU per secret, against 1.6 ms here" in with_fresh
    assert "fresh process" not in without
