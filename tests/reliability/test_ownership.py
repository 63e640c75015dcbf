"""Ownership (SPEC §3a): a target deletes and overwrites only what it owns, in its destination
and in the merge store; other targets', other pipelines' and earlier versions' secrets are
foreign. Every case runs against the real OpenBao and moto servers."""

from __future__ import annotations

import json
from pathlib import Path

import hvac
import pytest

from tests.helpers import read_aws, read_vault, seed_vault, unique, write_config
from tests.reliability.cli import secretsync

TEAM = {f"app{i}": {"password": f"team-{i}"} for i in range(3)}

PIPELINE = """
version: 1
dag: {{dag_id: {dag_id}}}
pipeline:
  sync: {{delete_orphans: true, max_deletions: {max_deletions}}}
merge_store: {merge_store}
sources:
  team: {{vault: {{path: {ns}/src/{source}}}}}
targets:
  Base: [team]
  Prod:
    inherits: Base
    {destination}
    adopt: {adopt}
"""


@pytest.fixture
def world(servers, vault_client: hvac.Client, aws_client, tmp_path: Path):
    ns = unique("own")
    sm = aws_client("secretsmanager")
    s3 = aws_client("s3")
    bucket = ns.lower()
    s3.create_bucket(Bucket=bucket)
    seed_vault(vault_client, f"{ns}/src/a", TEAM)
    seed_vault(vault_client, f"{ns}/src/b", {"app0": {"password": "other"}, "b-only": {"x": 1}})
    destinations = {
        "vault": f"vault: {{path: {ns}/dest}}",
        "aws": f"aws: {{prefix: {ns}/dest/}}",
    }
    merge_stores = {
        "vault": f"{{{{vault: {{{{path: {ns}/merged/{{key}}}}}}}}}}",
        "s3": f"{{{{s3: {{{{bucket: {bucket}, prefix: merged/{{key}}/}}}}}}}}",
    }

    def config(
        dag_id: str,
        dest: str = "vault",
        merge: str = "vault",
        source: str = "a",
        adopt: bool = False,
        max_deletions: int | None = 10,
        merge_key: str | None = None,
    ) -> Path:
        text = PIPELINE.format(
            ns=ns,
            dag_id=dag_id,
            source=source,
            destination=destinations[dest],
            merge_store=merge_stores[merge].format(key=merge_key or dag_id),
            adopt=str(adopt).lower(),
            max_deletions="null" if max_deletions is None else max_deletions,
        )
        return write_config(tmp_path, text, name=f"{dag_id}-{dest}-{merge}-{source}.yaml")

    def dest(kind: str) -> dict:
        if kind == "vault":
            return read_vault(vault_client, f"{ns}/dest")
        return read_aws(sm, f"{ns}/dest/")

    def merged(kind: str, key: str, target: str = "Base") -> dict:
        if kind == "vault":
            return read_vault(vault_client, f"{ns}/merged/{key}/{target}")
        body = s3.get_object(Bucket=bucket, Key=f"merged/{key}/targets/{target}.json")[
            "Body"
        ].read()
        return json.loads(body)["secrets"]

    def owner(kind: str, rel: str) -> str | None:
        if kind == "vault":
            meta = vault_client.secrets.kv.v2.read_secret_metadata(
                mount_point="secret", path=f"{ns}/dest/{rel}"
            )["data"]["custom_metadata"]
        else:
            tags = sm.describe_secret(SecretId=f"{ns}/dest/{rel}").get("Tags") or []
            meta = {t["Key"]: t["Value"] for t in tags}
        return (meta or {}).get("secretsync-owner")

    return {
        "ns": ns,
        "config": config,
        "dest": dest,
        "merged": merged,
        "owner": owner,
        "sm": sm,
        "vault": vault_client,
    }


def run(config: Path):
    return secretsync("pipeline", "--config", config, "--output", "json")


@pytest.mark.parametrize("dest", ["vault", "aws"])
def test_another_pipelines_secrets_are_never_deleted_nor_overwritten_without_adopt(
    world, dest
) -> None:
    """Two pipelines write the same destination (finding 3, across files where no config
    check can see it): the second deletes nothing of the first's and refuses to overwrite."""
    first = run(world["config"]("pipe_a", dest=dest, source="a"))
    assert first.code == 0, first.out + first.err
    assert world["owner"](dest, "app1") == "pipe_a/Prod"

    second = run(world["config"]("pipe_b", dest=dest, source="b"))
    assert second.code == 2
    prod = second.target("Prod")
    assert prod["status"] == "failed"
    assert prod["error"] == (
        "would overwrite secrets of another target or pipeline (app0 owned by pipe_a/Prod); "
        "set 'adopt: true' on the target to allow it; nothing was written"
    )
    # app1 and app2 are pipe_a's: not "removed" for pipe_b, never deleted
    assert {c["path"]: c["change_type"] for c in prod["changes"]} == {
        "app0": "modified",
        "b-only": "added",
    }
    assert world["dest"](dest) == TEAM


@pytest.mark.parametrize("dest", ["vault", "aws"])
def test_adopt_takes_over_only_what_it_writes_and_deletes_only_its_own(world, dest) -> None:
    assert run(world["config"]("pipe_a", dest=dest, source="a")).code == 0
    adopted = run(world["config"]("pipe_b", dest=dest, source="b", adopt=True))
    assert adopted.code == 0, adopted.out + adopted.err
    assert world["dest"](dest) == {**TEAM, "app0": {"password": "other"}, "b-only": {"x": 1}}
    assert world["owner"](dest, "app0") == "pipe_b/Prod"
    assert world["owner"](dest, "app1") == "pipe_a/Prod"

    # pipe_a now finds app0 foreign; pipe_b, emptied, deletes only its own two
    again = run(world["config"]("pipe_a", dest=dest, source="a"))
    assert again.target("Prod")["status"] == "failed"
    assert "app0 owned by pipe_b/Prod" in again.target("Prod")["error"]
    seed_vault(world["vault"], f"{world['ns']}/src/empty", {"unrelated": {"v": 1}})
    emptied = run(world["config"]("pipe_b", dest=dest, source="empty"))
    assert emptied.code == 0, emptied.out + emptied.err
    kept = {k: v for k, v in TEAM.items() if k != "app0"}  # app0 was pipe_b's
    assert world["dest"](dest) == {**kept, "unrelated": {"v": 1}}
    removed = [
        c["path"] for c in emptied.target("Prod")["changes"] if c["change_type"] == "removed"
    ]
    assert removed == ["app0", "b-only"]


@pytest.mark.parametrize("merge", ["vault", "s3"])
def test_the_merge_store_deletes_only_entries_it_owns(world, merge) -> None:
    """Finding 1: entries in the target's merge-store location that it does not own (a user's
    secret, another pipeline's entries) survive a merge; its own stale entries go."""
    ns = world["ns"]
    assert run(world["config"]("pipe_a", merge=merge, source="a")).code == 0
    if merge == "vault":
        seed_vault(world["vault"], f"{ns}/merged/pipe_a/Base", {"keep-me": {"user": "secret"}})
    seed_vault(world["vault"], f"{ns}/src/c", {"app0": {"password": "team-0"}})

    shrunk = run(world["config"]("pipe_a", merge=merge, source="c"))

    assert shrunk.code == 0, shrunk.out + shrunk.err
    expected = {"app0": {"password": "team-0"}}
    if merge == "vault":
        expected["keep-me"] = {"user": "secret"}
    assert world["merged"](merge, "pipe_a") == expected


@pytest.mark.parametrize("merge", ["vault", "s3"])
def test_another_pipelines_merge_entries_are_foreign(world, merge) -> None:
    """Two pipelines share a merge store path and a target name: the second's merge of Base
    refuses to overwrite the first's entries and deletes none of them."""
    shared = {"merge": merge, "merge_key": "shared"}
    assert run(world["config"]("pipe_a", source="a", **shared)).code == 0
    second = run(world["config"]("pipe_b", source="b", **shared))
    assert second.code == 2
    error = second.target("Prod")["error"]
    assert error.startswith("merge of 'Base' failed: ")
    assert "would overwrite secrets of another target or pipeline (app0 owned by pipe_a/Base)" in (
        error
    )
    assert world["merged"](merge, "shared") == TEAM


@pytest.mark.parametrize("merge", ["vault", "s3"])
def test_merge_store_deletions_count_against_max_deletions(world, merge) -> None:
    """Finding 1: with max_deletions 0 the merge store deletes nothing and fails the target."""
    assert run(world["config"]("pipe_a", merge=merge, source="a")).code == 0
    seed_vault(world["vault"], f"{world['ns']}/src/c", {"app0": {"password": "changed"}})

    limited = run(world["config"]("pipe_a", merge=merge, source="c", max_deletions=0))

    assert limited.code == 2
    error = limited.target("Prod")["error"]
    assert error.endswith(
        "would delete 2 secrets, more than max_deletions=0; nothing was written"
    ), error
    assert world["merged"](merge, "pipe_a") == TEAM  # not even app0 was changed


@pytest.mark.parametrize("dest", ["vault", "aws"])
def test_secrets_of_an_earlier_version_are_foreign_until_adopted(world, dest) -> None:
    """Migration: ``managed-by`` without ``secretsync-owner`` (written by the version before
    owners) is never deleted, and taken over by the first target that writes it with adopt."""
    ns = world["ns"]
    old_marker = {"managed-by": "airflow-secretsync", "secretsync-target": "Prod"}
    legacy = {"app0": {"password": "old"}, "gone": {"v": 1}}
    if dest == "vault":
        seed_vault(world["vault"], f"{ns}/dest", legacy)
        for rel in legacy:
            world["vault"].secrets.kv.v2.update_metadata(
                mount_point="secret", path=f"{ns}/dest/{rel}", custom_metadata=old_marker
            )
    else:
        for rel, value in legacy.items():
            world["sm"].create_secret(
                Name=f"{ns}/dest/{rel}",
                SecretString=json.dumps(value),
                Tags=[{"Key": k, "Value": v} for k, v in old_marker.items()],
            )

    refused = run(world["config"]("pipe_a", dest=dest, source="a"))
    assert refused.target("Prod")["error"] == (
        "would overwrite secrets created by an earlier version of airflow-secretsync without an "
        "owner (app0); set 'adopt: true' on the target to allow it; nothing was written"
    )
    adopted = run(world["config"]("pipe_a", dest=dest, source="a", adopt=True))
    assert adopted.code == 0, adopted.out + adopted.err
    assert world["owner"](dest, "app0") == "pipe_a/Prod"
    # 'gone' is not desired but was never owned: kept, not counted removed
    assert world["dest"](dest) == {**TEAM, "gone": {"v": 1}}
    assert "gone" not in {c["path"] for c in adopted.target("Prod")["changes"]}
