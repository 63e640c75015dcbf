"""Rolling back an applied run (SPEC §10) from the version ids its report recorded.

Per secret: a modified secret gets its previous version's value back, a created one is deleted,
a deleted one is restored, each only if it is still exactly what the run left (the version the
run wrote, owned by the target); anything else is refused. The secrets a rollback deletes are
bounded by ``pipeline.sync.max_deletions``, like a sync's: over it, the target writes nothing.
A target whose destination kind cannot roll back (see
:attr:`~airflow_secretsync.stores.base.DestinationStore.supports_rollback`) is refused whole,
each of its secrets listed, before anything is read or written.
"""

from __future__ import annotations

from collections.abc import Iterable

from airflow_secretsync.config import PipelineConfig
from airflow_secretsync.core.diff import Change, ChangeType
from airflow_secretsync.core.engine import StoreProvider, error_text
from airflow_secretsync.core.report import Refusal, Report, TargetReport, VersionRecord
from airflow_secretsync.errors import SecretSyncError
from airflow_secretsync.stores.base import DestinationStore
from airflow_secretsync.stores.ownership import owner_id

#: What undoing each applied change does.
UNDO: dict[str, ChangeType] = {"added": "removed", "modified": "modified", "removed": "added"}


def rollback(
    config: PipelineConfig,
    report: Report,
    stores: StoreProvider,
    *,
    dry_run: bool = False,
    targets: Iterable[str] | None = None,
) -> Report:
    """Undo what ``report`` applied (of ``targets`` only, when given); ``dry_run`` only checks
    and reports."""
    selected = report.targets
    if targets is not None:
        names = list(targets)
        unknown = [name for name in names if name not in config.targets]
        if unknown:
            raise SecretSyncError(f"unknown targets: {', '.join(unknown)}")
        selected = tuple(t for t in report.targets if t.target in names)
    if report.dry_run or not any(t.versions for t in selected):
        raise SecretSyncError(
            "the report records no applied change to roll back"
            + (" for the selected targets" if targets is not None else "")
            + " (a dry run, nothing applied, or written by a version without rollback records)"
        )
    unknown = [t.target for t in selected if t.versions and t.target not in config.targets]
    if unknown:
        raise SecretSyncError(f"the report names targets not in the config: {', '.join(unknown)}")
    reports = []
    for target in selected:
        if not target.versions:
            continue
        try:
            destination = stores.destination(target.target)
            if destination is None:
                raise SecretSyncError(f"target '{target.target}' has no destination")
            reports.append(_undo_target(config, target, destination, dry_run))
        except Exception as exc:
            reports.append(
                TargetReport(target=target.target, status="failed", error=error_text(exc))
            )
    return Report(dry_run=dry_run, targets=tuple(reports))


def _undo_target(
    config: PipelineConfig, target: TargetReport, store: DestinationStore, dry_run: bool
) -> TargetReport:
    if not store.supports_rollback:
        reason = "rollback is not supported by this store kind"
        return TargetReport(
            target=target.target,
            status="failed",
            error=f"{store.description}: {reason}; nothing was written",
            refused=tuple(Refusal(r.path, UNDO[r.change_type], reason) for r in target.versions),
        )
    owner = owner_id(config.dag_id, target.target)
    deletions = sum(1 for record in target.versions if UNDO[record.change_type] == "removed")
    limit = config.pipeline.sync.max_deletions
    if limit is not None and deletions > limit:
        return TargetReport(
            target=target.target,
            status="failed",
            error=(
                f"rolling back would delete {deletions} secrets, more than "
                f"max_deletions={limit}; nothing was written"
            ),
        )
    changes: list[Change] = []
    records: list[VersionRecord] = []
    refused: list[Refusal] = []
    for record in target.versions:
        undo = UNDO[record.change_type]
        try:
            reason = _changed_since(store, record, owner)
            if reason is None and not dry_run:
                records.append(_undo(store, record, owner))
        except SecretSyncError as exc:
            reason = str(exc)
        if reason:
            refused.append(Refusal(record.path, undo, reason))
        else:
            changes.append(Change(record.path, undo))
    error = f"{len(refused)} secret(s) not rolled back" if refused else None
    return TargetReport.from_changes(
        target.target, changes, error=error, versions=records, refused=refused
    )


def _changed_since(store: DestinationStore, record: VersionRecord, owner: str) -> str | None:
    """Why ``record`` cannot be undone (None: the secret is still what the run left)."""
    current, recorded_owner = store.current_version(record.path)
    if record.change_type == "removed":
        if current is not None:
            return "it exists again since the run"
        if not record.previous:
            return "no version was recorded"
        store.undelete(record.path, record.previous, owner=owner, check_only=True)
        return None
    if current is None:
        return "it was deleted since the run"
    if current != record.current or recorded_owner != owner:
        return "it changed since the run"
    if record.change_type == "modified" and not record.previous:
        return "no previous version was recorded"
    return None


def _undo(store: DestinationStore, record: VersionRecord, owner: str) -> VersionRecord:
    """Undo one change; the record of the undo (so a rollback can be rolled back too)."""
    path = record.path
    if record.change_type == "added":
        store.delete_version(path, expected=str(record.current), owner=owner)
        return VersionRecord(path, "removed", record.current, None)
    if record.change_type == "modified":
        restored = store.restore_version(path, str(record.previous), expected=str(record.current))
        return VersionRecord(path, "modified", record.current, restored)
    restored = store.undelete(path, str(record.previous), owner=owner)
    return VersionRecord(path, "added", None, restored)
