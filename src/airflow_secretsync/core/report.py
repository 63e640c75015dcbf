"""The sync report (SPEC §4): names and key names only, never a value."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from airflow_secretsync.core.diff import Change, ChangeType

#: ``rejected`` / ``timed_out``: a target whose approval (SPEC §10) was refused or never came.
Status = Literal["success", "failed", "skipped", "rejected", "timed_out"]
COUNTED = ("added", "removed", "modified", "unchanged")


@dataclass(frozen=True)
class Summary:
    added: int = 0
    removed: int = 0
    modified: int = 0
    unchanged: int = 0

    @property
    def total(self) -> int:
        return self.added + self.removed + self.modified + self.unchanged

    @property
    def changed(self) -> int:
        return self.added + self.removed + self.modified

    def to_dict(self) -> dict[str, int]:
        return {**{name: getattr(self, name) for name in COUNTED}, "total": self.total}

    @classmethod
    def of(cls, changes: Iterable[Change]) -> Summary:
        counts = dict.fromkeys(COUNTED, 0)
        for change in changes:
            counts[change.change_type] += 1
        return cls(**counts)

    @classmethod
    def sum(cls, summaries: Iterable[Summary]) -> Summary:
        items = list(summaries)
        return cls(**{name: sum(getattr(s, name) for s in items) for name in COUNTED})


@dataclass(frozen=True)
class VersionRecord:
    """What one applied change replaced (for rollback): version ids only, never a value.
    ``previous`` is None for a created secret, ``current`` None for a deleted one."""

    path: str
    change_type: ChangeType
    previous: str | None = None
    current: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "change_type": self.change_type,
            "previous_version": self.previous,
            "version": self.current,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> VersionRecord:
        return cls(
            path=data["path"],
            change_type=data["change_type"],
            previous=data.get("previous_version"),
            current=data.get("version"),
        )


@dataclass(frozen=True)
class Refusal:
    """A secret a plan or a rollback did not touch, and why (names only)."""

    path: str
    change_type: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "change_type": self.change_type, "reason": self.reason}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Refusal:
        return cls(data["path"], data["change_type"], data["reason"])


@dataclass(frozen=True)
class TargetReport:
    """One target's outcome. ``changes`` lists every change except ``unchanged``."""

    target: str
    status: Status = "success"
    error: str | None = None
    summary: Summary = field(default_factory=Summary)
    changes: tuple[Change, ...] = ()
    #: Whether running again may help (a store error) or not (a policy refusal). Not reported.
    retryable: bool = field(default=True, compare=False)
    #: The version each applied change replaced and created (JSON only; for rollback).
    versions: tuple[VersionRecord, ...] = ()
    #: Secrets left alone because they changed since a plan or a run (apply, rollback).
    refused: tuple[Refusal, ...] = ()
    #: The approval decision of a target that needs one: ``decision`` (approved, rejected,
    #: timed_out), ``by`` (the responder's name, None on timeout), ``at`` (ISO time).
    approval: Mapping[str, str | None] | None = None

    @classmethod
    def from_changes(
        cls,
        target: str,
        changes: Iterable[Change],
        *,
        error: str | None = None,
        retryable: bool = True,
        versions: Iterable[VersionRecord] = (),
        refused: Iterable[Refusal] = (),
    ) -> TargetReport:
        items = list(changes)
        return cls(
            target=target,
            status="failed" if error else "success",
            error=error,
            summary=Summary.of(items),
            changes=tuple(c for c in items if c.change_type != "unchanged"),
            retryable=retryable,
            versions=tuple(versions),
            refused=tuple(refused),
        )

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "target": self.target,
            "status": self.status,
            "error": self.error,
            "summary": self.summary.to_dict(),
            "changes": [c.to_dict() for c in self.changes],
        }
        if self.versions:
            data["versions"] = [v.to_dict() for v in self.versions]
        if self.refused:
            data["refused"] = [r.to_dict() for r in self.refused]
        if self.approval is not None:
            data["approval"] = dict(self.approval)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TargetReport:
        counts = data.get("summary") or {}
        return cls(
            target=data["target"],
            status=data.get("status", "success"),
            error=data.get("error"),
            summary=Summary(**{name: int(counts.get(name, 0)) for name in COUNTED}),
            changes=tuple(Change.from_dict(c) for c in data.get("changes", ())),
            versions=tuple(VersionRecord.from_dict(v) for v in data.get("versions", ())),
            refused=tuple(Refusal.from_dict(r) for r in data.get("refused", ())),
            approval=data.get("approval"),
        )


@dataclass(frozen=True)
class Report:
    """The whole run: every target's report and their sum."""

    dry_run: bool
    targets: tuple[TargetReport, ...] = ()

    @property
    def summary(self) -> Summary:
        return Summary.sum(t.summary for t in self.targets)

    @property
    def failed(self) -> list[TargetReport]:
        return [t for t in self.targets if t.status == "failed"]

    @property
    def not_approved(self) -> list[TargetReport]:
        """Targets whose approval was rejected or timed out (nothing written to them)."""
        return [t for t in self.targets if t.status in ("rejected", "timed_out")]

    @property
    def has_changes(self) -> bool:
        return self.summary.changed > 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "summary": self.summary.to_dict(),
            "targets": [t.to_dict() for t in self.targets],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Report:
        return cls(
            dry_run=bool(data.get("dry_run")),
            targets=tuple(TargetReport.from_dict(t) for t in data.get("targets", ())),
        )
