"""Report shape and renderers; no value ever appears in any format."""

from __future__ import annotations

import json

import pytest

from airflow_secretsync.core.diff import diff_secrets
from airflow_secretsync.core.render import OUTPUT_FORMATS, render
from airflow_secretsync.core.report import Report, TargetReport
from airflow_secretsync.stores.base import StoredSecret

CANARY = "canary-7f3a9c-value"


def sample_report(dry_run: bool = True) -> Report:
    current = {
        "app/db": StoredSecret("app/db", {"host": CANARY, "user": "u"}, "p/Staging", 3),
        "app/same": StoredSecret("app/same", {"k": CANARY}, "p/Staging", 1),
    }
    desired = {
        "app/db": {"host": CANARY + "2", "user": "u", "port": CANARY},
        "app/same": {"k": CANARY},
        "app/new": CANARY,
    }
    diff = diff_secrets(desired, current, owner="p/Staging")
    return Report(
        dry_run=dry_run,
        targets=(
            TargetReport.from_changes("Staging", diff.changes),
            TargetReport(target="Broken", status="failed", error="vault://secret/x: denied"),
            TargetReport(target="Other", status="skipped"),
        ),
    )


def test_json_shape_matches_spec() -> None:
    data = json.loads(render(sample_report(), "json"))
    assert list(data) == ["dry_run", "summary", "targets"]
    assert data["summary"] == {"added": 1, "removed": 0, "modified": 1, "unchanged": 1, "total": 3}
    staging = data["targets"][0]
    assert list(staging) == ["target", "status", "error", "summary", "changes"]
    assert staging["changes"] == [
        {"path": "app/db", "change_type": "modified", "keys_added": ["port"],
         "keys_removed": [], "keys_modified": ["host"]},
        {"path": "app/new", "change_type": "added", "keys_added": [], "keys_removed": [],
         "keys_modified": []},
    ]  # fmt: skip
    assert [t["status"] for t in data["targets"]] == ["success", "failed", "skipped"]
    assert Report.from_dict(data) == sample_report()


def test_human_output() -> None:
    text = render(sample_report(), "human")
    assert "+ app/new (new secret)" in text
    assert "~ app/db (modified: +port, ~host)" in text
    assert "Broken: FAILED: vault://secret/x: denied" in text
    assert "DRY RUN" in text
    zero = Report(dry_run=False, targets=(TargetReport("S"),))
    assert "Zero-sum: no changes" in render(zero, "human")


def test_github_output_and_step_outputs(tmp_path, monkeypatch) -> None:
    out = tmp_path / "out"
    monkeypatch.setenv("GITHUB_OUTPUT", str(out))
    text = render(sample_report(), "github")
    assert "::group::Staging" in text
    assert "::endgroup::" in text
    assert "::error title=secretsync Broken::" in text
    assert "::warning title=secretsync Staging::2 change(s) pending" in text
    assert "::notice title=secretsync::" in text
    outputs = dict(line.split("=", 1) for line in out.read_text().splitlines())
    assert outputs["has_changes"] == "true"
    assert outputs["failed_targets"] == "Broken"


def test_compact_is_one_line() -> None:
    text = render(sample_report(), "compact")
    assert "\n" not in text
    assert "+1 ~1 -0 =1 (3 total), 1 failed" in text


@pytest.mark.parametrize("output", OUTPUT_FORMATS)
def test_no_value_in_any_format(output: str) -> None:
    assert CANARY not in render(sample_report(), output)


def test_all_failed_is_never_zero_sum() -> None:
    failed = tuple(TargetReport(name, "failed", "vault down") for name in ("A", "B", "C"))
    text = render(Report(dry_run=False, targets=failed), "human")
    assert text.splitlines()[-1] == "No changes applied, 3 targets failed"
    assert "Zero-sum" not in text
    dry = render(Report(dry_run=True, targets=failed[:1]), "human")
    assert dry.splitlines()[-1] == "No changes pending, 1 target failed"


def test_compact_on_failure_gives_each_reason() -> None:
    report = Report(
        dry_run=False,
        targets=(TargetReport("A", "failed", "vault down"), TargetReport("B")),
    )
    assert render(report, "compact") == (
        "secretsync: 2 targets, +0 ~0 -0 =0 (0 total), 1 failed: A: vault down"
    )
