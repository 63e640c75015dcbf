"""Reviewed plans (SPEC §10): the per-target diff with the versions it saw, and its exact apply.

A plan records, for every change, the destination's version id it saw (Vault version, AWS
``VersionId``; None for a secret to create) and the identity of the desired value: the versions
it was computed from, ``{"<source>": "<version id>", ...}`` for the sources that hold the path
(or ``{"merge_store": "<version id>"}`` for a ``sync-only`` plan). Never a value, nor a hash of
one. Applying re-reads everything and applies, with the stores' check-and-set, only the
changes whose destination version and desired identity are still what the plan saw; the
others are reported as refused.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow_secretsync.config import PipelineConfig
from airflow_secretsync.core.diff import Change, TargetDiff
from airflow_secretsync.core.engine import Engine, Mode, RunOptions, StoreProvider, error_text
from airflow_secretsync.core.report import Refusal, Report, Summary, TargetReport
from airflow_secretsync.errors import ConflictError, SecretSyncError, StoreError
from airflow_secretsync.stores.base import Deadline, SourceStore, StoredSecret

PLAN_FORMAT = "secretsync-plan/1"
MERGE_STORE = "merge_store"


class PlanError(SecretSyncError):
    """A plan that cannot be applied at all (another config, expired, malformed)."""


def config_identity(config_bytes: bytes) -> str:
    """The config's identity: SHA-256 of the file's bytes (a config, never a secret)."""
    return hashlib.sha256(config_bytes).hexdigest()


class _Recorded:
    """A store whose last listing is kept, to read the version ids it saw."""

    def __init__(self, store: SourceStore) -> None:
        self._store = store
        self.listed: dict[str, StoredSecret] = {}

    def list_secrets(self) -> dict[str, StoredSecret]:
        self.listed = self._store.list_secrets()
        return self.listed

    def seen(self, path: str) -> StoredSecret | None:
        """The listed secret of relative path ``path``."""
        return next((s for s in self.listed.values() if s.path == path), None)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


class _Recording:
    """A :class:`StoreProvider` keeping each store's listing (one store per name)."""

    def __init__(self, stores: StoreProvider) -> None:
        self._stores = stores
        self.sources: dict[str, _Recorded] = {}
        self.merged: dict[str, _Recorded] = {}
        self.destinations: dict[str, _Recorded] = {}

    def source(self, name: str) -> Any:
        return self.sources.setdefault(name, _Recorded(self._stores.source(name)))

    def merge_store(self, target: str) -> Any:
        return self.merged.setdefault(target, _Recorded(self._stores.merge_store(target)))

    def destination(self, target: str) -> Any:
        if target not in self.destinations:
            store = self._stores.destination(target)
            if store is None:
                return None
            self.destinations[target] = _Recorded(store)
        return self.destinations[target]


@dataclass(frozen=True)
class PlannedChange:
    """One change of a plan: names, the destination version seen, the desired identity."""

    change: Change
    destination_version: str | None
    desired: dict[str, str] | None

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.change.to_dict(),
            "destination_version": self.destination_version,
            "desired": self.desired,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PlannedChange:
        return cls(Change.from_dict(data), data.get("destination_version"), data.get("desired"))


class _Planner:
    """Diffs targets through the engine and names the versions behind each change."""

    def __init__(
        self, config: PipelineConfig, stores: StoreProvider, mode: Mode, targets: tuple[str, ...]
    ) -> None:
        self.recording = _Recording(stores)
        options = RunOptions(dry_run=True, mode=mode, targets=targets or None)
        self.engine = Engine(config, self.recording, options)

    def sync_targets(self) -> list[str]:
        return [name for name in self.engine.config.targets if self.engine.syncs(name)]

    def diff(self, target: str) -> tuple[_Recorded, TargetDiff, list[PlannedChange]]:
        _, diff = self.engine.diff_target(target)
        recorded = self.recording.destinations[target]
        planned = [
            PlannedChange(c, self._destination_version(recorded, c), self._identity(target, c))
            for c in diff.changes
            if c.change_type != "unchanged"
        ]
        return recorded, diff, planned

    def _destination_version(self, store: _Recorded, change: Change) -> str | None:
        if change.change_type == "added":
            return None
        seen = (
            store.listed.get(store.secret_name(change.path))
            if change.change_type == "modified"
            else store.seen(change.path)
        )
        return _version(store, seen)

    def _identity(self, target: str, change: Change) -> dict[str, str] | None:
        if change.change_type == "removed":
            return None
        if self.engine.read_merged:
            store = self.recording.merged[target]
            return {MERGE_STORE: _version(store, store.listed.get(change.path))}
        return self._contributors(target, change.path)

    def _contributors(self, target: str, path: str) -> dict[str, str]:
        """The version of ``path`` in every source that feeds it into ``desired(target)``."""
        found: dict[str, str] = {}
        for part in self.engine.graph.contributions(target):
            if part.kind == "target":
                if path in self.engine.desired(part.name):
                    found.update(self._contributors(part.name, path))
                continue
            store = self.recording.sources[part.name]
            if path in store.listed:
                found[part.name] = _version(store, store.listed[path])
        return found


def _version(store: _Recorded, secret: StoredSecret | None) -> str:
    if secret is None:
        raise StoreError(f"{store.description}: a secret disappeared while planning")
    version = store.version_id(secret)
    if version is None:
        raise StoreError(
            f"{store.description}: this store kind does not expose secret versions, which "
            "plans need (Vault and AWS Secrets Manager do)"
        )
    return version


def make_plan(
    config: PipelineConfig,
    config_bytes: bytes,
    stores: StoreProvider,
    *,
    mode: Mode = "full",
    targets: tuple[str, ...] = (),
    expires_in: timedelta,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Diff every selected sync target (like a dry run) and return the plan document."""
    now = now or datetime.now(UTC)
    planner = _Planner(config, stores, mode, targets)
    entries = []
    for target in planner.sync_targets():
        try:
            _, diff, planned = planner.diff(target)
            problem = planner.engine.refusal(target, diff)
            entries.append(
                {
                    "target": target,
                    "status": "failed" if problem else "success",
                    "error": problem,
                    "summary": Summary.of(diff.changes).to_dict(),
                    "changes": [p.to_dict() for p in planned],
                }
            )
        except Exception as exc:  # one target's failure is in the plan, the others go on
            entries.append({"target": target, "status": "failed", "error": error_text(exc)})
    return {
        "format": PLAN_FORMAT,
        "config": str(config.source_file),
        "config_sha256": config_identity(config_bytes),
        "dag_id": config.dag_id,
        "mode": mode,
        "created_at": now.isoformat(timespec="seconds"),
        "expires_at": (now + expires_in).isoformat(timespec="seconds"),
        "targets": entries,
    }


def plan_report(plan: Mapping[str, Any]) -> Report:
    """The plan as a dry-run :class:`Report` (for the human and GitHub renderings)."""
    return Report(
        dry_run=True,
        targets=tuple(
            TargetReport.from_dict(
                {
                    **t,
                    "changes": [
                        PlannedChange.from_dict(c).change.to_dict() for c in t.get("changes", ())
                    ],
                }
            )
            for t in plan.get("targets", ())
        ),
    )


def check_plan(plan: Mapping[str, Any], config_bytes: bytes, now: datetime | None = None) -> None:
    """A :class:`PlanError` unless ``plan`` is a current plan of this very config."""
    if not isinstance(plan, Mapping) or plan.get("format") != PLAN_FORMAT:
        raise PlanError(f"not a secretsync plan (expected format '{PLAN_FORMAT}')")
    if plan.get("config_sha256") != config_identity(config_bytes):
        raise PlanError(
            "the plan was made for another config (its SHA-256 differs from the config "
            "file's); make a new plan; nothing was written"
        )
    try:
        expires = datetime.fromisoformat(str(plan["expires_at"]))
    except (KeyError, ValueError):
        raise PlanError("the plan has no valid 'expires_at'; nothing was written") from None
    if (now or datetime.now(UTC)) >= expires:
        raise PlanError(
            f"the plan expired at {expires.isoformat()}; make a new plan; nothing was written"
        )


def apply_plan(
    config: PipelineConfig,
    config_bytes: bytes,
    plan: Mapping[str, Any],
    stores: StoreProvider,
    *,
    now: datetime | None = None,
) -> Report:
    """Apply exactly ``plan``: per target, re-read, refuse what drifted, apply the rest."""
    check_plan(plan, config_bytes, now)
    targets = [t for t in plan.get("targets", ()) if t.get("status") == "success"]
    names = tuple(t["target"] for t in targets)
    planner = _Planner(config, stores, plan.get("mode", "full"), names)
    reports = [
        TargetReport(
            target=t["target"], status="failed", error="not applied: " + str(t.get("error"))
        )
        for t in plan.get("targets", ())
        if t.get("status") != "success"
    ]
    for target in targets:
        name = target["target"]
        if not any(True for _ in target.get("changes", ())):
            reports.append(TargetReport(target=name))
            continue
        try:
            reports.append(_apply_target(planner, name, target))
        except Exception as exc:
            reports.append(TargetReport(target=name, status="failed", error=error_text(exc)))
    return Report(dry_run=False, targets=tuple(reports))


def _apply_target(planner: _Planner, target: str, entry: Mapping[str, Any]) -> TargetReport:
    planned = {
        p.change.path: p for p in (PlannedChange.from_dict(c) for c in entry.get("changes", ()))
    }
    destination, diff, now = planner.diff(target)
    accepted: set[str] = set()
    refused: list[Refusal] = []
    for current in now:
        before = planned.pop(current.change.path, None)
        reason = _drift(before, current)
        if reason:
            refused.append(Refusal(current.change.path, current.change.change_type, reason))
        else:
            accepted.add(current.change.path)
    refused += [
        Refusal(path, p.change.change_type, "no longer a change (changed since the plan)")
        for path, p in planned.items()
    ]
    chosen = TargetDiff(
        changes=[c for c in diff.changes if c.path in accepted],
        writes=[w for w in diff.writes if w.path in accepted],
        deletes=[s for s in diff.deletes if s.path in accepted],
        foreign_overwrites=[s for s in diff.foreign_overwrites if s.path in accepted],
        owner=diff.owner,
    )
    error = planner.engine.refusal(target, chosen)
    if error:
        return TargetReport.from_changes(target, chosen.changes, error=error, refused=refused)
    done: set[str] = set()
    try:
        deadline = Deadline(planner.engine.config.pipeline.sync.timeout_seconds)
        records = planner.engine.apply_diff(target, destination, chosen, deadline, done)
    except ConflictError as exc:
        applied = [c for c in chosen.changes if c.path in done]
        return TargetReport.from_changes(target, applied, error=str(exc), refused=refused)
    if refused:
        error = f"{len(refused)} secret(s) refused: changed since the plan; the others were applied"
    return TargetReport.from_changes(
        target, chosen.changes, error=error, versions=records, refused=refused
    )


def _drift(before: PlannedChange | None, now: PlannedChange) -> str | None:
    """Why a change may not be applied under the plan (None: it is the planned change)."""
    if before is None:
        return "not in the plan"
    if before.change.change_type != now.change.change_type:
        return f"planned as {before.change.change_type}; the secret changed since the plan"
    if before.destination_version != now.destination_version:
        return "the destination changed since the plan"
    if before.desired != now.desired:
        return "the desired value changed since the plan"
    return None
