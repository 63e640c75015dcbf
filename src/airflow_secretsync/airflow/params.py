"""Manual-trigger params of a generated DAG and reading them back into :class:`RunOptions`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow.sdk import Param

from airflow_secretsync.config import PipelineConfig
from airflow_secretsync.core.engine import MODES, RunOptions


def targets_param(names: list[str], description: str) -> Param:
    """A multi-select of target names (empty: every target)."""
    return Param(
        [],
        type="array",
        items={"type": "string", "enum": names},
        examples=names,
        description=description,
    )


def build_params(config: PipelineConfig) -> dict[str, Param]:
    """``dry_run``, ``targets`` (multi-select), ``mode`` and ``fail_on_changes``."""
    names = list(config.targets)
    return {
        "dry_run": Param(
            config.pipeline.dry_run,
            type="boolean",
            description="Diff and report, write nothing.",
        ),
        "targets": targets_param(
            names, "Targets to run (their ancestors are merged too). Empty: all."
        ),
        "mode": Param(
            "full",
            type="string",
            enum=list(MODES),
            description="full, merge-only, or sync-only (sync what an earlier merge wrote).",
        ),
        "fail_on_changes": Param(
            False,
            type="boolean",
            description="Fail the report when anything changed (zero-sum check).",
        ),
    }


def run_options(config: PipelineConfig, params: Mapping[str, Any]) -> RunOptions:
    """The run options a task reads from its params (config defaults when absent)."""
    targets = params.get("targets") or []
    if isinstance(targets, str):
        targets = [t.strip() for t in targets.split(",") if t.strip()]
    return RunOptions(
        dry_run=bool(params.get("dry_run", config.pipeline.dry_run)),
        mode=params.get("mode") or "full",
        targets=tuple(targets) or None,
    )
