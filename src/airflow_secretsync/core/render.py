"""Renderers of a :class:`Report`: ``json``, ``human``, ``github`` and ``compact``."""

from __future__ import annotations

import json
import os
from collections.abc import Callable

from airflow_secretsync.core.diff import Change
from airflow_secretsync.core.report import Report, Summary, TargetReport

OUTPUT_FORMATS = ("human", "json", "github", "compact")


def plural(count: int, noun: str) -> str:
    """``1 target``, ``3 targets``."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def render_json(report: Report) -> str:
    """The spec's JSON shape, keys in a stable order."""
    return json.dumps(report.to_dict(), indent=2)


def _counts(summary: Summary) -> str:
    return (
        f"{summary.added} added, {summary.modified} modified, {summary.removed} removed, "
        f"{summary.unchanged} unchanged ({summary.total} total)"
    )


def _change_line(change: Change) -> str:
    if change.change_type == "added":
        return f"+ {change.path} (new secret)"
    if change.change_type == "removed":
        return f"- {change.path} (removed)"
    keys = [f"+{k}" for k in change.keys_added]
    keys += [f"-{k}" for k in change.keys_removed]
    keys += [f"~{k}" for k in change.keys_modified]
    return (
        f"~ {change.path} (modified: {', '.join(keys)})" if keys else f"~ {change.path} (modified)"
    )


def _target_header(target: TargetReport) -> str:
    if target.status == "failed":
        return f"{target.target}: FAILED: {target.error}"
    if target.status == "skipped":
        return f"{target.target}: skipped"
    return f"{target.target}: {_counts(target.summary)}"


def _outcome(report: Report) -> str:
    """The last line: zero-sum only when nothing failed; never reads as success otherwise."""
    changed = report.summary.changed
    done = "pending" if report.dry_run else "applied"
    failed = f", {plural(len(report.failed), 'target')} failed" if report.failed else ""
    if changed:
        return f"Changes: {changed} {done}{failed}"
    if report.failed:
        return f"No changes {done}{failed}"
    return "Zero-sum: no changes"


def render_human(report: Report) -> str:
    """Readable text grouped by target, ending with the zero-sum line."""
    lines = ["DRY RUN: nothing was written" if report.dry_run else "Sync applied"]
    for target in report.targets:
        lines.append("")
        lines.append(_target_header(target))
        lines.extend(f"  {_change_line(change)}" for change in target.changes)
    summary = report.summary
    lines.append("")
    lines.append(f"Total: {_counts(summary)}")
    if report.failed:
        lines.append(f"Failed targets: {', '.join(t.target for t in report.failed)}")
    lines.append(_outcome(report))
    return "\n".join(lines)


def _escape(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def render_github(report: Report) -> str:
    """GitHub Actions workflow commands; also writes step outputs to ``$GITHUB_OUTPUT``."""
    lines: list[str] = []
    for target in report.targets:
        lines.append(f"::group::{_escape(_target_header(target))}")
        lines.extend(_escape(_change_line(change)) for change in target.changes)
        lines.append("::endgroup::")
        if target.status == "failed":
            lines.append(f"::error title=secretsync {target.target}::{_escape(target.error or '')}")
        elif target.summary.changed and report.dry_run:
            lines.append(
                f"::warning title=secretsync {target.target}::"
                f"{target.summary.changed} change(s) pending"
            )
    lines.append(f"::notice title=secretsync::{_escape(render_compact(report))}")
    _write_github_outputs(report)
    return "\n".join(lines)


def _write_github_outputs(report: Report) -> None:
    path = os.environ.get("GITHUB_OUTPUT")
    if not path:
        return
    summary = report.summary
    outputs = {
        **{k: str(v) for k, v in summary.to_dict().items()},
        "changed": str(summary.changed),
        "has_changes": str(summary.changed > 0).lower(),
        "failed_targets": ",".join(t.target for t in report.failed),
        "dry_run": str(report.dry_run).lower(),
    }
    with open(path, "a", encoding="utf-8") as fh:
        fh.writelines(f"{key}={value}\n" for key, value in outputs.items())


def render_compact(report: Report) -> str:
    """One line; on failure it ends with each failed target's reason."""
    s = report.summary
    mode = " (dry run)" if report.dry_run else ""
    line = (
        f"secretsync{mode}: {plural(len(report.targets), 'target')}, +{s.added} ~{s.modified}"
        f" -{s.removed} ={s.unchanged} ({s.total} total), {len(report.failed)} failed"
    )
    if report.failed:
        line += ": " + "; ".join(f"{t.target}: {t.error}" for t in report.failed)
    return line


RENDERERS: dict[str, Callable[[Report], str]] = {
    "human": render_human,
    "json": render_json,
    "github": render_github,
    "compact": render_compact,
}


def render(report: Report, output: str) -> str:
    """Render ``report`` in one of :data:`OUTPUT_FORMATS`."""
    return RENDERERS[output](report)
