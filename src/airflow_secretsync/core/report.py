"""The sync report (SPEC §4): names and key names only, never a value."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from airflow_secretsync.core.diff import Change

Status = Literal["success", "failed", "skipped"]
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
class TargetReport:
    """One target's outcome. ``changes`` lists every change except ``unchanged``."""

    target: str
    status: Status = "success"
    error: str | None = None
    summary: Summary = field(default_factory=Summary)
    changes: tuple[Change, ...] = ()
    #: Whether running again may help (a store error) or not (a policy refusal). Not reported.
    retryable: bool = field(default=True, compare=False)

    @classmethod
    def from_changes(
        cls,
        target: str,
        changes: Iterable[Change],
        *,
        error: str | None = None,
        retryable: bool = True,
    ) -> TargetReport:
        items = list(changes)
        return cls(
            target=target,
            status="failed" if error else "success",
            error=error,
            summary=Summary.of(items),
            changes=tuple(c for c in items if c.change_type != "unchanged"),
            retryable=retryable,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "status": self.status,
            "error": self.error,
            "summary": self.summary.to_dict(),
            "changes": [c.to_dict() for c in self.changes],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TargetReport:
        counts = data.get("summary") or {}
        return cls(
            target=data["target"],
            status=data.get("status", "success"),
            error=data.get("error"),
            summary=Summary(**{name: int(counts.get(name, 0)) for name in COUNTED}),
            changes=tuple(Change.from_dict(c) for c in data.get("changes", ())),
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
