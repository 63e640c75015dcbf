"""Approval of one target's plan (SPEC §10), without Airflow: the request a person reads and the
report of a decision. Names, change types and counts only, never a value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from airflow_secretsync.core.diff import Change
from airflow_secretsync.core.plans import PlannedChange
from airflow_secretsync.core.render import plain_text
from airflow_secretsync.core.report import Refusal, Summary, TargetReport

Outcome = Literal["approved", "rejected", "timed_out"]


@dataclass(frozen=True)
class Decision:
    """What became of an approval request: the outcome, who responded (None on timeout) and
    when (ISO time)."""

    outcome: Outcome
    by: str | None = None
    at: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        return {"decision": self.outcome, "by": self.by, "at": self.at}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Decision:
        return cls(data["decision"], data.get("by"), data.get("at"))


def target_entry(plan: Mapping[str, Any], target: str) -> Mapping[str, Any]:
    """``target``'s entry of a plan document."""
    return next(t for t in plan.get("targets", ()) if t["target"] == target)


def planned_changes(entry: Mapping[str, Any]) -> list[Change]:
    """The changes a plan entry would make (no ``unchanged``)."""
    return [PlannedChange.from_dict(c).change for c in entry.get("changes", ())]


def _code(text: str) -> str:
    """``text`` as a Markdown code span that nothing in it can break out of."""
    return "`" + plain_text(text).replace("`", "'").replace("|", "\\|") + "`"


def _keys(change: Change) -> str:
    keys = [f"+{k}" for k in change.keys_added] + [f"-{k}" for k in change.keys_removed]
    keys += [f"~{k}" for k in change.keys_modified]
    return ", ".join(_code(k) for k in keys) or "-"


def request_text(entry: Mapping[str, Any], destination: str, timeout: str) -> tuple[str, str]:
    """The subject and Markdown body of the approval request for one plan entry."""
    target = plain_text(entry["target"])
    changes = planned_changes(entry)
    counts = Summary.of(changes)
    unchanged = int((entry.get("summary") or {}).get("unchanged", 0))
    subject = f"secretsync: approve {len(changes)} secret change(s) to target {target}?"
    lines = [
        f"**Target** {_code(entry['target'])} -> {_code(destination)}",
        "",
        f"**{counts.added} added, {counts.modified} modified, {counts.removed} removed** "
        f"({unchanged} unchanged)",
        "",
        "| Secret | Change | Keys |",
        "| --- | --- | --- |",
        *(f"| {_code(c.path)} | {c.change_type} | {_keys(c)} |" for c in changes),
        "",
        "**Approve** applies exactly these changes; a secret whose destination or desired "
        "value changed since this plan is refused, not written. **Reject**, or no response "
        f"within {timeout}, writes nothing.",
    ]
    return subject, "\n".join(lines)


def decided_report(entry: Mapping[str, Any], decision: Decision) -> TargetReport:
    """The report of a target whose plan was rejected or never approved: nothing written,
    every planned change listed as refused, with the reason."""
    if decision.outcome == "rejected":
        reason = f"rejected by {decision.by or 'an unknown user'}"
    else:
        reason = "approval timed out"
    when = f" at {decision.at}" if decision.at else ""
    return TargetReport(
        target=entry["target"],
        status="timed_out" if decision.outcome == "timed_out" else "rejected",
        error=f"{reason}{when}: nothing written",
        refused=tuple(Refusal(c.path, c.change_type, reason) for c in planned_changes(entry)),
        approval=decision.to_dict(),
    )
