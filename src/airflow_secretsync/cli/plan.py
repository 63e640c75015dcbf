"""``secretsync plan CONFIG``: show what a run would merge and sync, without network access."""

from __future__ import annotations

import argparse
import json
from typing import Any

from airflow_secretsync.cli import COMMANDS, EXIT_OK
from airflow_secretsync.cli.console import (
    add_command,
    add_targets_option,
    config_file,
    output_help,
)
from airflow_secretsync.cli.durations import DEFAULT_EXPIRY, duration
from airflow_secretsync.cli.validate import print_config_errors
from airflow_secretsync.config import PipelineConfig, Plan, build_plan, load_config
from airflow_secretsync.config.locations import describe, location
from airflow_secretsync.errors import ConfigError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(
        subparsers,
        "plan",
        COMMANDS["plan"],
        "Show the merge store, the sources, the merge levels and each sync target's "
        "destination, without network access.\n"
        "With --out PLAN.json: read the stores like a dry run and write the per-target diff "
        "with the versions it saw, for 'secretsync apply' (exit 0, or 2 if a target failed).",
    )
    add_targets_option(parser, "comma-separated targets (their ancestors are merged too)")
    parser.add_argument(
        "--output",
        choices=PLAN_OUTPUTS,
        default="human",
        help=output_help(PLAN_OUTPUTS) + " (github needs --out)",
    )
    parser.add_argument("--out", metavar="PLAN.json", help="write a plan for 'secretsync apply'")
    parser.add_argument(
        "--expires-in",
        type=duration,
        default=DEFAULT_EXPIRY,
        metavar="DURATION",
        help="how long the plan may be applied: 90s, 30m, 24h (default), 7d",
    )
    parser.add_argument(
        "--sync-only",
        action="store_true",
        help="with --out: diff against the merge store's desired values (as 'pipeline "
        "--sync-only')",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.out:
        from airflow_secretsync.cli.plan_out import write_plan

        return write_plan(args)
    if args.output == "github":
        args.config_parser.error("--output github needs --out")
    try:
        config = load_config(config_file(args))
        plan = build_plan(config, args.targets)
    except ConfigError as exc:
        return print_config_errors(exc)
    if args.output == "json":
        print(json.dumps(plan_document(config, plan), indent=2))
    else:
        print(render_plan(config, plan))
    return EXIT_OK


PLAN_OUTPUTS = ("human", "json", "github")


def destination(config: PipelineConfig, target: str) -> dict[str, Any]:
    """Where ``target`` syncs to: store type, location and connection id (no secrets)."""
    return location(config.targets[target].destination)


def plan_document(config: PipelineConfig, plan: Plan) -> dict[str, Any]:
    """The plan as JSON-ready data."""
    return {
        "config": str(config.source_file),
        "dag_id": config.dag_id,
        "dry_run": config.pipeline.dry_run,
        "merge_enabled": config.pipeline.merge.enabled,
        "sync_enabled": config.pipeline.sync.enabled,
        "merge_store": location(config.merge_store.store) if config.merge_store else None,
        "sources": {name: location(source.store) for name, source in config.sources.items()},
        **plan.to_dict(),
        "sync_targets": [
            {"target": name, "destination": destination(config, name)} for name in plan.sync_targets
        ],
    }


def render_plan(config: PipelineConfig, plan: Plan) -> str:
    """The plan for people: merge levels, then sync targets with their destinations."""
    lines = [f"Plan for {config.source_file} (DAG {config.dag_id})"]
    extra = [name for name in plan.selected if name not in plan.requested]
    if len(plan.requested) < len(config.targets):
        lines.append(f"Selected: {', '.join(plan.requested)}")
        if extra:
            lines.append(f"Merged as ancestors: {', '.join(extra)}")
    if config.merge_store:
        lines.append(f"Merge store: {describe(config.merge_store.store)}")
    lines.append(f"Sources ({len(config.sources)}):")
    width = max((len(name) for name in config.sources), default=0)
    lines += [
        f"  {name:<{width}}  {describe(source.store)}" for name, source in config.sources.items()
    ]
    merge_note = "" if config.pipeline.merge.enabled else " - disabled: computed in memory"
    lines.append(f"Merge levels ({len(plan.merge_levels)}){merge_note}:")
    lines += [f"  {i}. {', '.join(level)}" for i, level in enumerate(plan.merge_levels, 1)]
    sync_note = "" if config.pipeline.sync.enabled else " - disabled in config"
    lines.append(f"Sync targets ({len(plan.sync_targets)}){sync_note}:")
    width = max((len(name) for name in plan.sync_targets), default=0)
    lines += [
        f"  {name:<{width}}  -> {describe(config.targets[name].destination)}"
        for name in plan.sync_targets
    ]
    if config.pipeline.dry_run:
        lines.append("Dry run: yes (pipeline.dry_run)")
    return "\n".join(lines)
