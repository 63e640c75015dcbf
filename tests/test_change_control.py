"""Plans, exact apply and rollback (SPEC §10) end to end on the real OpenBao and moto servers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from airflow_secretsync.cli import main
from tests.helpers import read_aws, read_vault, seed_aws, seed_vault, unique, write_config

CANARY = "canary-5e0c2f1a-change"


@pytest.fixture
def world(servers, vault_client, aws_client, tmp_path: Path):
    """A Vault and an AWS source, one target per destination kind (Vault and AWS)."""
    ns = unique()
    sm = aws_client("secretsmanager")
    seed_vault(
        vault_client,
        f"{ns}/src",
        {"db": {"password": CANARY + "-db"}, "api": {"token": CANARY + "-api"}},
    )
    seed_aws(sm, {f"{ns}/legacy/smtp": {"password": CANARY + "-smtp"}})
    config = write_config(
        tmp_path,
        f"""
        version: 1
        pipeline:
          sync: {{delete_orphans: true}}
        merge_store:
          vault: {{mount: secret, path: {ns}/merged}}
        sources:
          platform: {{vault: {{mount: secret, path: {ns}/src}}}}
          legacy: {{aws: {{prefix: {ns}/legacy/}}}}
        targets:
          Cloud:
            imports: [platform, legacy]
            aws: {{prefix: {ns}/cloud/}}
          Vaulted:
            imports: [platform, legacy]
            vault: {{mount: secret, path: {ns}/dest}}
        """,
    )
    return {"ns": ns, "config": config, "sm": sm, "vault": vault_client, "tmp": tmp_path}


def cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert CANARY not in out + err
    return code, out, err


def plan(world, capsys, *extra: str) -> tuple[int, dict, Path]:
    path = world["tmp"] / f"plan-{unique()}.json"
    code, _, _ = cli(capsys, "plan", str(world["config"]), "--out", str(path), *extra)
    text = path.read_text()
    assert CANARY not in text
    return code, json.loads(text), path


def apply(capsys, plan_path: Path, *extra: str) -> tuple[int, dict]:
    code, out, _ = cli(capsys, "apply", str(plan_path), "--output", "json", *extra)
    return code, json.loads(out) if out.startswith("{") else {}


def run(world, capsys) -> dict:
    code, out, _ = cli(capsys, "pipeline", str(world["config"]), "--output", "json")
    assert code == 0
    return json.loads(out)


def targets(report: dict) -> dict[str, dict]:
    return {t["target"]: t for t in report["targets"]}


def put_vault(world, rel: str, value: dict) -> None:
    seed_vault(world["vault"], world["ns"], {rel: value})


def test_plan_without_out_still_needs_no_stores(world, capsys) -> None:
    code, out, _ = cli(capsys, "plan", str(world["config"]))
    assert code == 0
    assert "Sync targets (2)" in out


def test_plan_then_apply_applies_exactly_the_plan(world, capsys) -> None:
    ns = world["ns"]
    code, doc, path = plan(world, capsys)
    assert code == 0
    assert doc["dag_id"] == "secretsync_pipeline"  # from the config file name
    assert len(doc["config_sha256"]) == 64
    assert doc["mode"] == "full"
    cloud = targets(doc)["Cloud"]
    assert {c["path"]: c["change_type"] for c in cloud["changes"]} == dict.fromkeys(
        ("api", "db", "smtp"), "added"
    )
    by_path = {c["path"]: c for c in cloud["changes"]}
    assert by_path["db"]["destination_version"] is None
    assert by_path["db"]["desired"] == {"platform": "1"}  # Vault version of the source secret
    assert set(by_path["smtp"]["desired"]) == {"legacy"}  # an AWS VersionId
    assert read_aws(world["sm"], f"{ns}/cloud/") == {}  # planning wrote nothing

    code, report = apply(capsys, path)
    assert code == 0
    assert report["summary"]["added"] == 6
    assert read_aws(world["sm"], f"{ns}/cloud/") == {
        "db": {"password": CANARY + "-db"},
        "api": {"token": CANARY + "-api"},
        "smtp": {"password": CANARY + "-smtp"},
    }
    assert set(read_vault(world["vault"], f"{ns}/dest")) == {"db", "api", "smtp"}
    versions = {v["path"]: v for v in targets(report)["Vaulted"]["versions"]}
    assert versions["db"] == {
        "path": "db", "change_type": "added", "previous_version": None, "version": "1"
    }  # fmt: skip


def test_apply_refuses_what_drifted_and_applies_the_rest(world, capsys) -> None:
    ns = world["ns"]
    run(world, capsys)
    put_vault(world, "src/db", {"password": "new-db"})
    put_vault(world, "src/api", {"token": "new-api"})
    seed_vault(world["vault"], f"{ns}/src", {"extra": {"k": "v"}})
    _, doc, path = plan(world, capsys)
    assert {c["path"] for c in targets(doc)["Vaulted"]["changes"]} == {"db", "api", "extra"}
    # after the plan: a destination edited by hand, a desired value changed again
    put_vault(world, "dest/db", {"password": "hand-made"})
    world["sm"].put_secret_value(
        SecretId=f"{ns}/cloud/db", SecretString=json.dumps({"password": "hand-made"})
    )
    put_vault(world, "src/api", {"token": "newer-api"})
    code, report = apply(capsys, path)
    assert code == 2
    for name in ("Vaulted", "Cloud"):
        target = targets(report)[name]
        assert {r["path"]: r["reason"] for r in target["refused"]} == {
            "db": "the destination changed since the plan",
            "api": "the desired value changed since the plan",
        }
        assert [c["path"] for c in target["changes"]] == ["extra"]
    assert read_vault(world["vault"], f"{ns}/dest") == {
        "db": {"password": "hand-made"},
        "api": {"token": CANARY + "-api"},
        "smtp": {"password": CANARY + "-smtp"},
        "extra": {"k": "v"},
    }
    assert read_aws(world["sm"], f"{ns}/cloud/")["api"] == {"token": CANARY + "-api"}
    assert read_aws(world["sm"], f"{ns}/cloud/")["extra"] == {"k": "v"}
    _, out, _ = cli(capsys, "apply", str(path))
    assert "! db (refused modified: the destination changed since the plan)" in out


def test_plan_for_another_config_is_refused(world, capsys) -> None:
    ns = world["ns"]
    _, _, path = plan(world, capsys)
    world["config"].write_text(world["config"].read_text() + "# edited\n")
    code, _, err = cli(capsys, "apply", str(path))
    assert code == 2
    assert "the plan was made for another config" in err
    assert read_aws(world["sm"], f"{ns}/cloud/") == {}
    assert read_vault(world["vault"], f"{ns}/dest") == {}


def test_expired_plan_is_refused(world, capsys) -> None:
    ns = world["ns"]
    _, doc, path = plan(world, capsys, "--expires-in", "30m")
    created = datetime.fromisoformat(doc["created_at"])
    assert datetime.fromisoformat(doc["expires_at"]) - created == timedelta(minutes=30)
    doc["expires_at"] = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    path.write_text(json.dumps(doc))
    code, _, err = cli(capsys, "apply", str(path))
    assert code == 2
    assert "error: the plan expired at" in err
    assert read_aws(world["sm"], f"{ns}/cloud/") == {}


def test_plan_renderings(world, capsys) -> None:
    path = world["tmp"] / "plan.json"
    code, out, _ = cli(capsys, "plan", str(world["config"]), "--out", str(path))
    assert code == 0
    assert f"Plan written to {path}" in out
    assert "+ db (new secret)" in out
    code, out, _ = cli(
        capsys, "plan", str(world["config"]), "--out", str(path), "--output", "github"
    )
    assert "::group::Cloud: 3 added" in out
    code, out, _ = cli(capsys, "plan", str(world["config"]), "--out", str(path), "--output", "json")
    assert json.loads(out) == json.loads(path.read_text())


def test_rollback_of_modify_create_delete(world, capsys) -> None:
    ns = world["ns"]
    run(world, capsys)
    before_aws = read_aws(world["sm"], f"{ns}/cloud/")
    before_vault = read_vault(world["vault"], f"{ns}/dest")
    put_vault(world, "src/db", {"password": "rotated"})  # modified
    seed_vault(world["vault"], f"{ns}/src", {"extra": {"k": "v"}})  # created
    world["sm"].delete_secret(SecretId=f"{ns}/legacy/smtp", ForceDeleteWithoutRecovery=True)
    report = run(world, capsys)  # smtp deleted
    report_path = world["tmp"] / "report.json"
    report_path.write_text(json.dumps(report))
    assert read_aws(world["sm"], f"{ns}/cloud/")["db"] == {"password": "rotated"}

    code, out, _ = cli(
        capsys, "rollback", str(report_path), "--config", str(world["config"]), "--dry-run"
    )
    assert code == 2  # Vault cannot bring back a deleted secret: refused
    assert "DRY RUN" in out
    assert "~ db (modified)" in out
    assert "- extra (removed)" in out
    assert "+ smtp (new secret)" in out  # AWS: restored from pending deletion
    assert read_aws(world["sm"], f"{ns}/cloud/")["db"] == {"password": "rotated"}

    code, out, _ = cli(
        capsys, "rollback", str(report_path), "--config", str(world["config"]), "--output", "json"
    )
    undone = targets(json.loads(out))
    assert undone["Cloud"]["status"] == "success"
    assert undone["Cloud"]["summary"] == {
        "added": 1, "removed": 1, "modified": 1, "unchanged": 0, "total": 3
    }  # fmt: skip
    assert read_aws(world["sm"], f"{ns}/cloud/") == before_aws
    assert [r["path"] for r in undone["Vaulted"]["refused"]] == ["smtp"]
    assert read_vault(world["vault"], f"{ns}/dest") == {
        k: v for k, v in before_vault.items() if k != "smtp"
    }


def test_rollback_refuses_what_changed_after_the_run(world, capsys) -> None:
    ns = world["ns"]
    run(world, capsys)
    put_vault(world, "src/db", {"password": "rotated"})
    put_vault(world, "src/api", {"token": "rotated"})
    report_path = world["tmp"] / "report.json"
    report_path.write_text(json.dumps(run(world, capsys)))
    put_vault(world, "dest/db", {"password": "changed-again"})
    world["sm"].put_secret_value(
        SecretId=f"{ns}/cloud/db", SecretString=json.dumps({"password": "changed-again"})
    )
    code, out, _ = cli(
        capsys, "rollback", str(report_path), "--config", str(world["config"]), "--output", "json"
    )
    assert code == 2
    for target in json.loads(out)["targets"]:
        assert target["refused"] == [
            {"path": "db", "change_type": "modified", "reason": "it changed since the run"}
        ]
        assert [c["path"] for c in target["changes"]] == ["api"]
    assert read_vault(world["vault"], f"{ns}/dest")["db"] == {"password": "changed-again"}
    assert read_vault(world["vault"], f"{ns}/dest")["api"] == {"token": CANARY + "-api"}
    assert read_aws(world["sm"], f"{ns}/cloud/")["db"] == {"password": "changed-again"}
    assert read_aws(world["sm"], f"{ns}/cloud/")["api"] == {"token": CANARY + "-api"}


def test_rollback_deletes_no_more_than_max_deletions(world, capsys) -> None:
    """Rolling back a first run deletes what it created: bounded like a sync's deletions."""
    ns = world["ns"]
    report_path = world["tmp"] / "report.json"
    report_path.write_text(json.dumps(run(world, capsys)))
    before_aws = read_aws(world["sm"], f"{ns}/cloud/")
    before_vault = read_vault(world["vault"], f"{ns}/dest")
    assert len(before_aws) > 1
    config = world["config"]
    config.write_text(
        config.read_text().replace(
            "sync: {delete_orphans: true}", "sync: {delete_orphans: true, max_deletions: 1}"
        )
    )

    code, out, _ = cli(
        capsys, "rollback", str(report_path), "--config", str(config), "--output", "json"
    )

    assert code == 2
    for target in json.loads(out)["targets"]:
        assert target["status"] == "failed"
        assert "more than max_deletions=1; nothing was written" in target["error"]
    assert read_aws(world["sm"], f"{ns}/cloud/") == before_aws
    assert read_vault(world["vault"], f"{ns}/dest") == before_vault


def test_rollback_of_selected_targets_only(world, capsys) -> None:
    ns = world["ns"]
    run(world, capsys)
    before_aws = read_aws(world["sm"], f"{ns}/cloud/")
    put_vault(world, "src/db", {"password": "rotated"})
    report_path = world["tmp"] / "report.json"
    report_path.write_text(json.dumps(run(world, capsys)))

    code, out, err = cli(
        capsys, "rollback", str(report_path), "--config", str(world["config"]), "--targets", "Nope"
    )
    assert code == 2
    assert "unknown targets: Nope" in out + err

    code, out, _ = cli(
        capsys,
        "rollback",
        str(report_path),
        "--config",
        str(world["config"]),
        "--targets",
        "Cloud",
        "--output",
        "json",
    )
    assert code == 0
    assert [t["target"] for t in json.loads(out)["targets"]] == ["Cloud"]
    assert read_aws(world["sm"], f"{ns}/cloud/") == before_aws
    assert read_vault(world["vault"], f"{ns}/dest")["db"] == {"password": "rotated"}
