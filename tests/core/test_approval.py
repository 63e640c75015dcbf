"""The approval request's text and the report of a decision (no Airflow, no stores)."""

from __future__ import annotations

from airflow_secretsync.core.approval import Decision, decided_report, request_text
from airflow_secretsync.core.render import render_human
from airflow_secretsync.core.report import Report

ENTRY = {
    "target": "Prod",
    "status": "success",
    "error": None,
    "summary": {"added": 1, "removed": 1, "modified": 1, "unchanged": 4, "total": 7},
    "changes": [
        {"path": "app/db", "change_type": "modified", "keys_added": ["port"],
         "keys_removed": [], "keys_modified": ["pass|word"], "destination_version": "3",
         "desired": {"merge_store": "7"}},
        {"path": "app/`new`", "change_type": "added", "keys_added": [], "keys_removed": [],
         "keys_modified": [], "destination_version": None, "desired": {"merge_store": "2"}},
        {"path": "old", "change_type": "removed", "keys_added": [], "keys_removed": [],
         "keys_modified": [], "destination_version": "1", "desired": None},
    ],
}  # fmt: skip


def test_the_request_lists_names_change_types_and_counts() -> None:
    subject, body = request_text(ENTRY, "Vault secret/prod (connection vault_default)", "24 hours")
    assert subject == "secretsync: approve 3 secret change(s) to target Prod?"
    lines = body.splitlines()
    assert lines[0] == "**Target** `Prod` -> `Vault secret/prod (connection vault_default)`"
    assert lines[2] == "**1 added, 1 modified, 1 removed** (4 unchanged)"
    assert lines[6:9] == [
        "| `app/db` | modified | `+port`, `~pass\\|word` |",
        "| `app/'new'` | added | - |",  # a name cannot end the code span or the table cell
        "| `old` | removed | - |",
    ]
    assert lines[-1].endswith("**Reject**, or no response within 24 hours, writes nothing.")
    assert '"3"' not in body  # version ids stay in the plan
    assert "merge_store" not in body


def test_a_rejection_writes_nothing_and_says_who() -> None:
    decision = Decision("rejected", by="alice", at="2026-12-01T10:00:00+00:00")
    report = decided_report(ENTRY, decision)
    assert report.status == "rejected"
    assert report.summary.changed == 0
    assert [(r.path, r.change_type, r.reason) for r in report.refused] == [
        ("app/db", "modified", "rejected by alice"),
        ("app/`new`", "added", "rejected by alice"),
        ("old", "removed", "rejected by alice"),
    ]
    data = report.to_dict()
    assert data["approval"] == {"decision": "rejected", "by": "alice",
                                "at": "2026-12-01T10:00:00+00:00"}  # fmt: skip
    text = render_human(Report(dry_run=False, targets=(report,)))
    assert "Prod: rejected by alice at 2026-12-01T10:00:00+00:00: nothing written" in text
    assert "! old (refused removed: rejected by alice)" in text
    assert text.endswith("No changes applied, 1 target not approved")  # never "zero-sum"


def test_a_timeout_is_reported_as_such() -> None:
    report = decided_report(ENTRY, Decision("timed_out"))
    assert (report.status, report.error) == ("timed_out", "approval timed out: nothing written")
    assert Decision.from_dict(report.to_dict()["approval"]) == Decision("timed_out")


def test_a_direct_sync_of_a_target_needing_approval_writes_nothing() -> None:
    from airflow_secretsync.config import parse_config
    from airflow_secretsync.core.engine import NEEDS_APPROVAL, Engine, RunOptions
    from tests.memory_store import MemoryStores

    cfg = parse_config(
        "version: 1\npipeline:\n  merge: {enabled: false}\n  sync: {approval: required}\n"
        "sources:\n  a: {vault: {path: a}}\ntargets:\n  T: {imports: [a], vault: {path: t}}\n",
        "p.yaml",
    )
    stores = MemoryStores(cfg)
    stores.source("a").put("app/db", {"password": "CANARY-approval-1"})
    report = Engine(cfg, stores, RunOptions()).sync_target("T")
    assert (report.status, report.error, report.summary.added) == ("failed", NEEDS_APPROVAL, 1)
    assert stores.destination("T").writes == 0
    dry = Engine(cfg, stores, RunOptions(dry_run=True)).sync_target("T")
    assert (dry.status, dry.summary.added) == ("success", 1)
