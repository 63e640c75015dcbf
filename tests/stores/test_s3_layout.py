"""The S3 merge store layout: no target name can collide with the manifest (issue 14, finding 7)."""

from __future__ import annotations

import json
from pathlib import Path

from airflow_secretsync.cli import main
from tests.helpers import read_aws, seed_vault, unique, write_config

# Names that collided (``manifest``) or look like the manifest's key in some layout.
TRICKY = ["manifest", "manifest.json", "targets", "_manifest"]


def test_targets_named_like_the_manifest_merge_and_sync_twice(
    servers, vault_client, aws_client, tmp_path: Path, capsys
) -> None:
    ns, bucket = unique("s3layout"), unique("s3layout-bucket")
    s3, sm = aws_client("s3"), aws_client("secretsmanager")
    s3.create_bucket(Bucket=bucket)
    seed_vault(vault_client, f"{ns}/src", {"app/db": {"port": 5432}, "token": {"v": "1"}})
    targets = "\n".join(
        f"  {name}: {{imports: [team], aws: {{prefix: {ns}/out/{index}/}}}}"
        for index, name in enumerate(TRICKY)
    )
    config = write_config(
        tmp_path,
        f"version: 1\nmerge_store: {{s3: {{bucket: {bucket}, prefix: {ns}/m/}}}}\n"
        f"sources:\n  team: {{vault: {{path: {ns}/src}}}}\ntargets:\n{targets}\n",
    )

    def run(*options: str) -> tuple[int, dict]:
        args = ["pipeline", "--config", str(config), "--output", "json", "--exit-code"]
        code = main([*args, *options])
        return code, json.loads(capsys.readouterr().out)

    first_code, first = run()
    second_code, second = run()
    from_store_code, from_store = run("--sync-only")  # reads every target's object back

    assert first_code == 1, first
    assert [t["status"] for t in first["targets"]] == ["success"] * len(TRICKY)
    assert first["summary"]["added"] == 2 * len(TRICKY)
    assert second_code == 0, second  # zero-sum
    assert second["summary"]["unchanged"] == 2 * len(TRICKY)
    assert from_store_code == 0, from_store
    assert from_store["summary"]["unchanged"] == 2 * len(TRICKY)
    for index in range(len(TRICKY)):
        assert read_aws(sm, f"{ns}/out/{index}/") == {"app/db": {"port": 5432}, "token": {"v": "1"}}
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=f"{ns}/m/")["Contents"]}
    assert keys == {f"{ns}/m/manifest.json"} | {f"{ns}/m/targets/{n}.json" for n in TRICKY}
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=f"{ns}/m/manifest.json")["Body"].read())
    assert set(manifest["targets"]) == set(TRICKY)
    for name in TRICKY:
        assert manifest["targets"][name]["object"] == f"{ns}/m/targets/{name}.json"
        body = s3.get_object(Bucket=bucket, Key=f"{ns}/m/targets/{name}.json")["Body"].read()
        assert json.loads(body)["target"] == name
