"""Renderers of a :class:`Report`: ``json``, ``human``, ``github`` and ``compact``.

Target, path and key names and error texts come from stores and may be attacker-controlled:
every renderer passes them through :func:`plain_text` (control characters shown as escapes, so
no terminal escape sequence, carriage return or new line, and hence no line of its own such as
a GitHub workflow command, comes from a name); ``github`` also applies GitHub's
workflow-command escaping (:func:`github_data`, :func:`github_property`).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable

from airflow_secretsync.core.diff import Change
from airflow_secretsync.core.report import Refusal, Report, Summary, TargetReport

OUTPUT_FORMATS = ("human", "json", "github", "compact")
#: C0 and C1 controls, DEL, line/paragraph separators and bidirectional overrides.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": r"\n", "\r": r"\r", "\t": r"\t"}


def _escape_control(match: re.Match[str]) -> str:
    char = match[0]
    return _NAMED.get(char) or (
        rf"\x{ord(char):02x}" if ord(char) < 0x100 else rf"\u{ord(char):04x}"
    )


def plain_text(text: str) -> str:
    """``text`` with every control character shown as an escape (``\\x1b``, ``\\n``)."""
    return _CONTROL.sub(_escape_control, text)


def github_data(text: str) -> str:
    """A workflow command's message, escaped by GitHub's rules (``%``, CR, LF), other control
    characters as in :func:`plain_text`."""
    escaped = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return plain_text(escaped)


def github_property(text: str) -> str:
    """A workflow command property value (``title=...``): also ``:`` and ``,`` escaped."""
    return github_data(text).replace(":", "%3A").replace(",", "%2C")


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
    path = plain_text(change.path)
    if change.change_type == "added":
        return f"+ {path} (new secret)"
    if change.change_type == "removed":
        return f"- {path} (removed)"
    keys = [f"+{plain_text(k)}" for k in change.keys_added]
    keys += [f"-{plain_text(k)}" for k in change.keys_removed]
    keys += [f"~{plain_text(k)}" for k in change.keys_modified]
    return f"~ {path} (modified: {', '.join(keys)})" if keys else f"~ {path} (modified)"


def _refusal_line(refusal: Refusal) -> str:
    reason = plain_text(refusal.reason)
    return f"! {plain_text(refusal.path)} (refused {refusal.change_type}: {reason})"


def _target_header(target: TargetReport) -> str:
    name = plain_text(target.target)
    if target.status == "failed":
        return f"{name}: FAILED: {plain_text(target.error or '')}"
    if target.status == "skipped":
        return f"{name}: skipped"
    if target.status in ("rejected", "timed_out"):
        return f"{name}: {plain_text(target.error or target.status)}"
    return f"{name}: {_counts(target.summary)}"


def _outcome(report: Report) -> str:
    """The last line: zero-sum only when nothing failed; never reads as success otherwise."""
    changed = report.summary.changed
    done = "pending" if report.dry_run else "applied"
    failed = f", {plural(len(report.failed), 'target')} failed" if report.failed else ""
    if report.not_approved:
        failed += f", {plural(len(report.not_approved), 'target')} not approved"
    if changed:
        return f"Changes: {changed} {done}{failed}"
    if failed:
        return f"No changes {done}{failed}"
    return "Zero-sum: no changes"


def render_human(report: Report) -> str:
    """Readable text grouped by target, ending with the zero-sum line."""
    lines = ["DRY RUN: nothing was written" if report.dry_run else "Sync applied"]
    for target in report.targets:
        lines.append("")
        lines.append(_target_header(target))
        lines.extend(f"  {_change_line(change)}" for change in target.changes)
        lines.extend(f"  {_refusal_line(refusal)}" for refusal in target.refused)
    summary = report.summary
    lines.append("")
    lines.append(f"Total: {_counts(summary)}")
    if report.failed:
        lines.append(f"Failed targets: {', '.join(plain_text(t.target) for t in report.failed)}")
    lines.append(_outcome(report))
    return "\n".join(lines)


def render_github(report: Report) -> str:
    """GitHub Actions workflow commands; also writes step outputs to ``$GITHUB_OUTPUT``."""
    lines: list[str] = []
    for target in report.targets:
        title = github_property(f"secretsync {target.target}")
        lines.append(f"::group::{github_data(_target_header(target))}")
        lines.extend(github_data(_change_line(change)) for change in target.changes)
        lines.extend(github_data(_refusal_line(refusal)) for refusal in target.refused)
        lines.append("::endgroup::")
        if target.status == "failed":
            lines.append(f"::error title={title}::{github_data(target.error or '')}")
        elif target.status in ("rejected", "timed_out"):
            lines.append(f"::warning title={title}::{github_data(target.error or '')}")
        elif target.summary.changed and report.dry_run:
            lines.append(f"::warning title={title}::{target.summary.changed} change(s) pending")
    lines.append(f"::notice title=secretsync::{github_data(render_compact(report))}")
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
    if report.not_approved:
        line += f", {len(report.not_approved)} not approved"
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
