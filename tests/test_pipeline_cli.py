"""`secretsync pipeline` end to end against the real OpenBao and moto servers (SPEC §2-§5)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from airflow_secretsync.cli import main
from tests.helpers import read_aws, read_vault, seed_aws, seed_vault, unique, write_config

CANARY = "canary-9d1f0b7e-secret"


@pytest.fixture
def world(servers, vault_client, aws_client, tmp_path: Path):
    """Sources in Vault and AWS and a config with three inheritance levels, two parents,
    an AWS and a Vault destination; every name unique to this test."""
    ns = unique()
    sm = aws_client("secretsmanager")
    seed_vault(
        vault_client,
        f"{ns}/src/platform",
        {
            "app/db": {"host": "db", "port": 5432, "password": CANARY, "tags": ["a"]},
            "app/api": {"token": CANARY + "-api"},
            "tmp/scratch": {"x": "1"},
        },
    )
    seed_vault(vault_client, f"{ns}/src/extra", {"app/db": {"port": 6432, "tags": ["b"]}})
    seed_aws(
        sm,
        {
            f"{ns}/legacy/app/db": {"password": CANARY + "-legacy", "pool": 10},
            f"{ns}/legacy/smtp": "plain-" + CANARY,
        },
    )
    config = write_config(
        tmp_path,
        f"""
        version: 1
        pipeline:
          sync: {{delete_orphans: true, max_deletions: 2}}
        merge_store:
          vault: {{mount: secret, path: {ns}/merged}}
        sources:
          platform: {{vault: {{mount: secret, path: {ns}/src/platform}}}}
          extra: {{vault: {{mount: secret, path: {ns}/src/extra}}}}
          legacy: {{aws: {{prefix: {ns}/legacy/}}}}
        targets:
          Base: [platform]
          Ops: [extra]
          Staging:
            inherits: Base
            imports: [legacy]
            exclude: ["^tmp/"]
            aws: {{prefix: {ns}/staging/, tags: {{env: staging}}}}
          Production:
            inherits: [Staging, Ops]
            vault: {{mount: secret, path: {ns}/prod}}
        """,
    )
    return {"ns": ns, "config": config, "sm": sm, "vault": vault_client}


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["pipeline", *args])
    out, err = capsys.readouterr()
    return code, out, err


def report_of(capsys, config: Path, *args: str) -> tuple[int, dict]:
    code, out, _ = run_cli(capsys, "--config", str(config), "--output", "json", *args)
    return code, json.loads(out)


EXPECTED_STAGING = {
    "app/db": {
        "host": "db",
        "port": 5432,
        "password": CANARY + "-legacy",
        "tags": ["a"],
        "pool": 10,
    },
    "app/api": {"token": CANARY + "-api"},
    "smtp": "plain-" + CANARY,
}
EXPECTED_PRODUCTION = {
    **EXPECTED_STAGING,
    "app/db": {**EXPECTED_STAGING["app/db"], "port": 6432, "tags": ["a", "b"]},
    "smtp": {"value": "plain-" + CANARY},
}


def test_full_run_merges_inheritance_and_syncs_both_destinations(world, capsys) -> None:
    ns = world["ns"]
    code, report = report_of(capsys, world["config"], "--exit-code")
    assert code == 1  # changes applied
    assert report["dry_run"] is False
    by_target = {t["target"]: t for t in report["targets"]}
    assert set(by_target) == {"Staging", "Production"}
    assert by_target["Staging"]["summary"] == {
        "added": 3, "removed": 0, "modified": 0, "unchanged": 0, "total": 3
    }  # fmt: skip
    assert read_aws(world["sm"], f"{ns}/staging/") == EXPECTED_STAGING
    assert read_vault(world["vault"], f"{ns}/prod") == EXPECTED_PRODUCTION
    # the merge store holds exactly desired(T) for every target, merge-only ones included
    assert set(read_vault(world["vault"], f"{ns}/merged/Base")) == {
        "app/db", "app/api", "tmp/scratch"
    }  # fmt: skip


def test_second_run_is_zero_sum_and_writes_nothing(world, capsys) -> None:
    ns = world["ns"]
    assert report_of(capsys, world["config"])[0] == 0
    versions = {
        name: world["sm"].describe_secret(SecretId=f"{ns}/staging/{name}")["VersionIdsToStages"]
        for name in EXPECTED_STAGING
    }
    vault_meta = world["vault"].secrets.kv.v2.read_secret_metadata(
        mount_point="secret", path=f"{ns}/prod/app/db"
    )["data"]["current_version"]
    code, out, _ = run_cli(capsys, "--config", str(world["config"]), "--exit-code")
    assert code == 0
    assert "Zero-sum: no changes" in out
    assert versions == {
        name: world["sm"].describe_secret(SecretId=f"{ns}/staging/{name}")["VersionIdsToStages"]
        for name in EXPECTED_STAGING
    }
    assert (
        world["vault"].secrets.kv.v2.read_secret_metadata(
            mount_point="secret", path=f"{ns}/prod/app/db"
        )["data"]["current_version"]
        == vault_meta
    )


def test_dry_run_writes_nothing_and_reports_the_same_counts(world, capsys) -> None:
    ns = world["ns"]
    code, dry = report_of(capsys, world["config"], "--dry-run", "--exit-code")
    assert code == 1
    assert dry["dry_run"] is True
    assert read_aws(world["sm"], f"{ns}/staging/") == {}
    assert read_vault(world["vault"], f"{ns}/prod") == {}
    assert read_vault(world["vault"], f"{ns}/merged") == {}
    _, real = report_of(capsys, world["config"])
    assert dry["summary"] == real["summary"]
    assert [t["changes"] for t in dry["targets"]] == [t["changes"] for t in real["targets"]]


def test_sync_only_after_merge_only(world, capsys) -> None:
    ns = world["ns"]
    code, merged = report_of(capsys, world["config"], "--merge-only")
    assert code == 0
    assert {t["status"] for t in merged["targets"]} == {"skipped"}
    assert read_aws(world["sm"], f"{ns}/staging/") == {}
    assert "app/db" in read_vault(world["vault"], f"{ns}/merged/Staging")
    # a source changes after the merge: sync-only must use what the merge wrote
    seed_vault(world["vault"], f"{ns}/src/platform", {"app/new": {"k": "v"}})
    code, synced = report_of(capsys, world["config"], "--sync-only")
    assert code == 0
    assert synced["summary"]["added"] == 6
    assert read_aws(world["sm"], f"{ns}/staging/") == EXPECTED_STAGING


def test_targets_selects_and_skips_the_rest(world, capsys) -> None:
    ns = world["ns"]
    code, report = report_of(capsys, world["config"], "--targets", "Staging")
    assert code == 0
    statuses = {t["target"]: t["status"] for t in report["targets"]}
    assert statuses == {"Staging": "success", "Production": "skipped"}
    assert read_aws(world["sm"], f"{ns}/staging/") == EXPECTED_STAGING
    assert read_vault(world["vault"], f"{ns}/prod") == {}
    assert read_vault(world["vault"], f"{ns}/merged/Ops") == {}  # not an ancestor


def test_orphans_deleted_within_limit_and_refused_over_it(world, capsys) -> None:
    ns = world["ns"]
    report_of(capsys, world["config"])
    # three secrets disappear from the sources: Staging would delete 3 > max_deletions=2
    for name in ("smtp", "app/db"):
        world["sm"].delete_secret(SecretId=f"{ns}/legacy/{name}", ForceDeleteWithoutRecovery=True)
    world["vault"].secrets.kv.v2.delete_metadata_and_all_versions(
        mount_point="secret", path=f"{ns}/src/platform/app/api"
    )
    world["vault"].secrets.kv.v2.delete_metadata_and_all_versions(
        mount_point="secret", path=f"{ns}/src/platform/app/db"
    )
    before = read_aws(world["sm"], f"{ns}/staging/")
    code, report = report_of(capsys, world["config"])
    assert code == 2
    staging = next(t for t in report["targets"] if t["target"] == "Staging")
    assert staging["status"] == "failed"
    # the merge store's 3 deletions for Staging count against the limit: refused there first
    assert staging["error"].startswith("merge failed: ")
    assert staging["error"].endswith(
        "would delete 3 secrets, more than max_deletions=2; nothing was written"
    )
    assert read_aws(world["sm"], f"{ns}/staging/") == before
    # Production inherits Staging: its merge was blocked; raise the limit, both go ahead
    production = next(t for t in report["targets"] if t["target"] == "Production")
    assert production["error"].startswith("merge of 'Staging' failed: ")
    world["config"].write_text(
        world["config"].read_text().replace("max_deletions: 2", "max_deletions: 3")
    )
    code, report = report_of(capsys, world["config"])
    assert code == 0
    assert report["summary"]["removed"] == 3 + 2
    assert read_aws(world["sm"], f"{ns}/staging/") == {}
    assert read_vault(world["vault"], f"{ns}/prod") == {"app/db": {"port": 6432, "tags": ["b"]}}


def test_unowned_secret_needs_adopt(world, capsys) -> None:
    ns = world["ns"]
    seed_aws(world["sm"], {f"{ns}/staging/app/api": {"token": "hand-made"}})
    code, report = report_of(capsys, world["config"], "--targets", "Staging")
    assert code == 2
    staging = report["targets"][0]
    assert staging["status"] == "failed"
    assert "app/api" in staging["error"]
    assert "adopt" in staging["error"]
    assert read_aws(world["sm"], f"{ns}/staging/") == {"app/api": {"token": "hand-made"}}
    # a dry run shows it as modified
    _, dry = report_of(capsys, world["config"], "--targets", "Staging", "--dry-run")
    changes = {c["path"]: c["change_type"] for c in dry["targets"][0]["changes"]}
    assert changes["app/api"] == "modified"


def test_partial_failure_keeps_siblings_going(world, capsys, monkeypatch) -> None:
    text = (
        world["config"]
        .read_text()
        .replace(
            f"vault: {{mount: secret, path: {world['ns']}/prod}}",
            f"vault: {{mount: secret, path: {world['ns']}/prod, connection_id: vault_broken}}",
        )
    )
    world["config"].write_text(text)
    monkeypatch.setenv(
        "AIRFLOW_CONN_VAULT_BROKEN",
        json.dumps({"conn_type": "vault", "host": "127.0.0.1", "port": 9, "password": "x"}),
    )
    code, report = report_of(capsys, world["config"])
    assert code == 2
    statuses = {t["target"]: t["status"] for t in report["targets"]}
    assert statuses == {"Staging": "success", "Production": "failed"}
    assert read_aws(world["sm"], f"{world['ns']}/staging/") == EXPECTED_STAGING


@pytest.mark.parametrize("output", ["human", "json", "github", "compact"])
def test_no_canary_in_any_output_or_log(world, capsys, caplog, output) -> None:
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="airflow_secretsync")
    code, out, err = run_cli(capsys, "--config", str(world["config"]), "--output", output)
    assert code == 0
    assert out
    for text in (out, err, caplog.text):
        assert CANARY not in text


def test_config_error_exit_code(tmp_path, capsys) -> None:
    config = write_config(tmp_path, "version: 2\n")
    code, _out, err = run_cli(capsys, "--config", str(config))
    assert code == 2
    assert "pipeline.yaml" in err
    assert "Traceback" not in err


def test_console_script_stdout_is_only_the_report(world) -> None:
    """The installed script, as CI runs it: stdout parses as JSON, logs stay on stderr."""
    import os
    import subprocess
    import sys

    script = Path(sys.executable).with_name("secretsync")
    result = subprocess.run(
        [str(script), "pipeline", "--config", str(world["config"]), "--output", "json",
         "--dry-run", "--exit-code"],
        capture_output=True, text=True, env=os.environ.copy(), check=False,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert json.loads(result.stdout)["summary"]["added"] == 6
    assert CANARY not in result.stdout + result.stderr


def test_failed_merge_counts_the_same_targets_and_says_why(servers) -> None:
    """The example config with an unreachable Vault, through the installed script: the same two
    targets as a good run (Base, with no destination, is named in their errors), each failure
    with its cause, no urllib3 retry noise, no wrap at 80 columns when piped."""
    import os
    import subprocess
    import sys

    broken = {"conn_type": "vault", "host": "127.0.0.1", "port": 9, "password": "x"}
    env = {**os.environ, "AIRFLOW_CONN_VAULT_DEFAULT": json.dumps(broken)}
    script = str(Path(sys.executable).with_name("secretsync"))
    config = str(Path(__file__).resolve().parent.parent / "dags" / "configs" / "example.yaml")
    compact = subprocess.run(
        [script, "pipeline", "--config", config, "--output", "compact"],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert compact.returncode == 2
    assert compact.stdout.startswith("secretsync: 4 targets, +0 ~0 -0 =0 (0 total), 4 failed: ")
    assert "Staging: merge of 'Base' failed: Vault connection 'vault_default': cannot reach" in (
        compact.stdout
    )
    assert "Retrying" not in compact.stderr
    human = subprocess.run(
        [script, "pipeline", "--config", config], capture_output=True, text=True, env=env
    )
    lines = human.stdout.splitlines()
    assert lines[-1] == "No changes applied, 4 targets failed"
    assert any(len(line) > 80 and "cannot reach Vault at" in line for line in lines)


def test_no_aws_hook_chatter_on_a_good_run(world) -> None:
    import os
    import subprocess
    import sys

    script = str(Path(sys.executable).with_name("secretsync"))
    result = subprocess.run(
        [script, "pipeline", "--config", str(world["config"]), "--dry-run", "--output", "compact"],
        capture_output=True, text=True, env=os.environ.copy(), check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "credentials retrieved" not in result.stderr
