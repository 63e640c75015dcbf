"""Deletion safety: a typo that empties a source never empties a destination, and secrets the
tool did not create are never deleted, nor overwritten without ``adopt``."""

from __future__ import annotations

from pathlib import Path

import hvac
import pytest

from tests.helpers import read_aws, read_vault, seed_aws, seed_vault, unique, write_config
from tests.reliability.cli import secretsync

TEAM = {f"app{i}": {"password": f"team-{i}"} for i in range(3)}
LEGACY = {f"old{i}": f"legacy-{i}" for i in range(3)}
DESIRED = TEAM | LEGACY

CONFIG = """
version: 1
pipeline:
  sync: {{delete_orphans: true, max_deletions: {max_deletions}}}
merge_store: {{vault: {{path: {ns}/merged}}}}
sources:
  team: {{vault: {{path: {team_path}}}}}
  legacy: {{aws: {{prefix: {legacy_prefix}}}}}
targets:
  Prod:
    imports: [team, legacy]
    vault: {{path: {ns}/prod}}
    adopt: {adopt}
  Stage:
    imports: [team, legacy]
    aws: {{prefix: {ns}/stage/}}
    adopt: {adopt}
"""


@pytest.fixture
def world(servers, vault_client: hvac.Client, aws_client, tmp_path: Path):
    ns = unique("del")
    sm = aws_client("secretsmanager")
    seed_vault(vault_client, f"{ns}/src", TEAM)
    seed_aws(sm, {f"{ns}/src-legacy/{k}": v for k, v in LEGACY.items()})
    defaults = {
        "ns": ns,
        "team_path": f"{ns}/src",
        "legacy_prefix": f"{ns}/src-legacy/",
        "max_deletions": 2,
        "adopt": "false",
    }

    def config(**changes: object) -> Path:
        return write_config(tmp_path, CONFIG.format(**{**defaults, **changes}))

    def destinations() -> tuple[dict, dict]:
        return read_vault(vault_client, f"{ns}/prod"), read_aws(sm, f"{ns}/stage/")

    return {
        "ns": ns,
        "config": config,
        "destinations": destinations,
        "sm": sm,
        "vault": vault_client,
    }


def vault_versions(client: hvac.Client, path: str) -> dict[str, int]:
    return {
        rel: client.secrets.kv.v2.read_secret_metadata(mount_point="secret", path=f"{path}/{rel}")[
            "data"
        ]["current_version"]
        for rel in read_vault(client, path)
    }


@pytest.mark.parametrize(
    "typo",
    [{"team_path": "{ns}/scr"}, {"legacy_prefix": "{ns}/src_legacy/"}],
    ids=["vault-path", "aws-prefix"],
)
def test_a_typo_emptying_a_source_deletes_nothing(world, typo: dict) -> None:
    ns = world["ns"]
    assert secretsync("pipeline", "--config", world["config"](), "--output", "json").code == 0
    before = world["destinations"]()
    assert before[1] == DESIRED
    assert set(before[0]) == set(DESIRED)
    versions = vault_versions(world["vault"], f"{ns}/prod")

    broken = world["config"](**{key: value.format(ns=ns) for key, value in typo.items()})
    dry = secretsync("pipeline", "--config", broken, "--output", "json", "--dry-run")
    dry_human = secretsync("pipeline", "--config", broken, "--output", "human", "--dry-run")
    real = secretsync("pipeline", "--config", broken, "--output", "human")

    assert world["destinations"]() == before
    assert vault_versions(world["vault"], f"{ns}/prod") == versions
    listed = world["sm"].list_secrets(
        IncludePlannedDeletion=True, Filters=[{"Key": "name", "Values": [f"{ns}/stage/"]}]
    )["SecretList"]
    assert [s["Name"] for s in listed if s.get("DeletedDate")] == []
    # what the user was told: the deletions that were refused, by name, and why
    assert dry.code == real.code == 2
    for target in ("Prod", "Stage"):
        report = dry.target(target)
        assert report["status"] == "failed"
        assert report["summary"]["removed"] == 3
        assert report["error"] == (
            "would delete 3 secrets, more than max_deletions=2; nothing was written"
        )
        assert f"{target}: FAILED: would delete 3 secrets, more than max_deletions=2" in (
            dry_human.out
        )
        # a real run stops earlier: the merge store's deletions count against the limit too
        assert f"{target}: FAILED: merge failed: vault://secret/{ns}/merged/{target}: would" in (
            real.out
        )
    assert real.out.count("delete 3 secrets, more than max_deletions=2") == 2
    removed = "app0" if "team_path" in typo else "old0"
    assert f"- {removed} (removed)" in dry_human.out
    assert "Traceback" not in real.err


def test_a_typo_in_a_mount_fails_the_merge_instead_of_emptying_it(world, servers) -> None:
    ns = world["ns"]
    assert secretsync("pipeline", "--config", world["config"](), "--output", "json").code == 0
    before = world["destinations"]()
    broken = world["config"](team_path=f"{ns}/src, mount: secrte")
    result = secretsync("pipeline", "--config", broken, "--output", "json")
    assert result.code == 2
    for target in ("Prod", "Stage"):
        error = result.target(target)["error"]
        assert error == (
            f"merge failed: vault://secrte (connection 'vault_default' at {servers.vault.url}): "
            "no secrets engine is mounted at 'secrte' (or no policy of the token reaches into it)"
        )
    assert world["destinations"]() == before


@pytest.mark.parametrize("destination", ["Prod", "Stage"])
def test_secrets_the_tool_did_not_create_are_never_deleted_or_silently_overwritten(
    world, destination: str
) -> None:
    ns = world["ns"]
    theirs = {"app0": {"password": "hand-made"}, "hand-made/extra": {"note": "keep me"}}
    if destination == "Prod":
        seed_vault(world["vault"], f"{ns}/prod", theirs)
        world["vault"].secrets.kv.v2.update_metadata(
            mount_point="secret", path=f"{ns}/prod/app0", custom_metadata={"owner": "dba"}
        )
    else:
        seed_aws(world["sm"], {f"{ns}/stage/{k}": v for k, v in theirs.items()})

    def current() -> dict:
        vault, aws = world["destinations"]()
        return vault if destination == "Prod" else aws

    refused = secretsync(
        "pipeline", "--config", world["config"](max_deletions="null"), "--output", "json",
        "--targets", destination,
    )  # fmt: skip
    assert refused.code == 2
    report = refused.target(destination)
    assert report["error"] == (
        "would overwrite secrets not created by airflow-secretsync (app0); "
        "set 'adopt: true' on the target to allow it; nothing was written"
    )
    assert {c["path"]: c["change_type"] for c in report["changes"]} == {
        "app0": "modified", "app1": "added", "app2": "added",
        "old0": "added", "old1": "added", "old2": "added",
    }  # fmt: skip
    assert current() == theirs  # not even the two new secrets were written

    adopted = secretsync(
        "pipeline", "--config", world["config"](max_deletions="null", adopt="true"),
        "--output", "json", "--targets", destination,
    )  # fmt: skip
    assert adopted.code == 0
    assert adopted.target(destination)["summary"]["removed"] == 0
    stored = current()
    assert stored.pop("hand-made/extra") == {"note": "keep me"}  # never deleted, never counted
    assert set(stored) == set(DESIRED)
    assert stored["app0"] == DESIRED["app0"]
    if destination == "Prod":
        meta = world["vault"].secrets.kv.v2.read_secret_metadata(
            mount_point="secret", path=f"{ns}/prod/app0"
        )["data"]["custom_metadata"]
        assert meta["owner"] == "dba"  # the user's metadata is kept when adopted
        assert meta["managed-by"] == "airflow-secretsync"
