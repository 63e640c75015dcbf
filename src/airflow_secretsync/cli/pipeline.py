"""``secretsync pipeline``: run merge and/or sync from a config file and print the report."""

from __future__ import annotations

import argparse
import sys

from rich.console import Console

from airflow_secretsync.cli import COMMANDS, EXIT_CHANGES, EXIT_ERROR, EXIT_OK
from airflow_secretsync.cli.console import (
    add_command,
    add_targets_option,
    config_file,
    logs_to_stderr,
    output_help,
)
from airflow_secretsync.config import PipelineConfig, load_config
from airflow_secretsync.config.pipeline import PipelineGraph
from airflow_secretsync.core.engine import Engine, RunOptions
from airflow_secretsync.core.render import OUTPUT_FORMATS, render
from airflow_secretsync.core.report import Report
from airflow_secretsync.step_secrets import (
    OPTION_FORM,
    StepSecrets,
    parse_step_secret_option,
)
from airflow_secretsync.stores.factory import StoreFactory


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(
        subparsers,
        "pipeline",
        COMMANDS["pipeline"],
        "Run merge and/or sync from a pipeline file and print the report.\n"
        "Exit code: 0 success, 1 changes found or applied (with --exit-code), 2 a target failed.",
    )
    add_targets_option(parser, "comma-separated targets (their ancestors are merged too)")
    phase = parser.add_mutually_exclusive_group()
    phase.add_argument("--merge-only", action="store_true", help="run the merge phase only")
    phase.add_argument("--sync-only", action="store_true", help="sync from the merge store only")
    parser.add_argument("--dry-run", action="store_true", help="diff and report, write nothing")
    parser.add_argument(
        "--output", choices=OUTPUT_FORMATS, default="human", help=output_help(OUTPUT_FORMATS)
    )
    parser.add_argument(
        "--exit-code", action="store_true", help="exit 1 when changes were found or applied"
    )
    parser.add_argument(
        "--step-secret",
        action="append",
        default=[],
        metavar="TASK:NAME=REF",
        help=f"a step secret for one task, beating the config's; repeatable. {OPTION_FORM}",
    )
    parser.set_defaults(handler=run)


def exit_code(report: Report, *, changes_matter: bool) -> int:
    """0 success; 1 changes found (with ``--exit-code``); 2 any failed target."""
    if report.failed:
        return EXIT_ERROR
    return EXIT_CHANGES if changes_matter and report.has_changes else EXIT_OK


def step_secrets(config: PipelineConfig, options: list[str]) -> StepSecrets:
    """The config's step secrets with ``--step-secret`` options on top (checked task ids)."""
    secrets = StepSecrets.from_config(config)
    for option in options:
        secrets.add_step_secret(*parse_step_secret_option(option))
    secrets.check_task_ids(PipelineGraph.from_config(config).task_ids)
    return secrets


def run(args: argparse.Namespace) -> int:
    config = load_config(config_file(args))
    secrets = step_secrets(config, args.step_secret)
    mode = "merge-only" if args.merge_only else "sync-only" if args.sync_only else "full"
    options = RunOptions(
        dry_run=args.dry_run or config.pipeline.dry_run,
        mode=mode,
        targets=tuple(args.targets) if args.targets else None,
    )
    with logs_to_stderr():
        stores = StoreFactory(config)
        try:
            scope = secrets.scope if secrets.get_step_secrets() else None
            report = Engine(config, stores, options, task_scope=scope).run()
        finally:
            stores.close()
    text = render(report, args.output)
    if args.output == "human" and sys.stdout.isatty():
        Console(highlight=False).print(text, markup=False)
    else:  # piped or machine-readable: never wrapped at the terminal width
        sys.stdout.write(text + "\n")
    return exit_code(report, changes_matter=args.exit_code)
