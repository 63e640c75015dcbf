"""Airflow Assets of destinations (docs: "Assets" in docs/airflow.md).

Each sync task has an :class:`AssetAlias` outlet; when the sync changed its destination (not a
dry run, not zero changes) the task adds one event of the destination's asset to it, named by
:func:`airflow_secretsync.scopes.asset_uri`, with the target, the counts and the changed names
in ``extra``, never a value. A run that changes nothing emits no event, so a DAG scheduled on the
asset runs after each rotation only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airflow.sdk import Asset, AssetAlias, BaseOperator, Context

from airflow_secretsync.config import load_config
from airflow_secretsync.core.report import TargetReport
from airflow_secretsync.errors import ConfigError
from airflow_secretsync.scopes import asset_uri
from airflow_secretsync.stores.registry import StoreBlock

#: At most this many changed names go into an event's ``extra`` (the rest are counted).
MAX_EXTRA_NAMES = 1000


def destination_alias(task: BaseOperator) -> AssetAlias:
    """The alias a sync task emits its destination's asset event through (one per task)."""
    return AssetAlias(f"secretsync:{task.dag_id}.{task.task_id}")


def destination_asset(block: StoreBlock) -> Asset:
    """The asset of a destination block: its URI is the block's scope's."""
    return Asset(asset_uri(block.scope()))


def target_asset(config_path: str | Path, target: str) -> Asset:
    """The asset of ``target``'s destination in a config file, to schedule a DAG on."""
    config = load_config(config_path)
    spec = config.targets.get(target)
    if spec is None or spec.destination is None:
        raise ConfigError(f"{config_path}: target '{target}' has no destination")
    return destination_asset(spec.destination)


def event_extra(report: TargetReport) -> dict[str, Any]:
    """Target, counts and changed names of a sync: what a downstream DAG may read."""
    names = sorted(change.path for change in report.changes)
    summary = report.summary
    return {
        "target": report.target,
        "added": summary.added,
        "modified": summary.modified,
        "removed": summary.removed,
        "names": names[:MAX_EXTRA_NAMES],
        "names_omitted": max(0, len(names) - MAX_EXTRA_NAMES),
    }


def emit_destination_event(
    context: Context, alias: AssetAlias, block: StoreBlock | None, report: TargetReport
) -> None:
    """Add the destination's asset event to ``alias`` if the sync changed anything."""
    if block is not None and report.status == "success" and report.summary.changed:
        extra = event_extra(report)
        context["outlet_events"][alias].add(destination_asset(block), extra=extra)
