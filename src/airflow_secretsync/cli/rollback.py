"""``secretsync rollback REPORT.json``: undo what a run applied (SPEC §10)."""

from __future__ import annotations

import argparse

from airflow_secretsync.cli import COMMANDS
from airflow_secretsync.cli.change_control import print_report, read_document, with_stores
from airflow_secretsync.cli.console import add_targets_option, command_parser, output_help
from airflow_secretsync.config import load_config
from airflow_secretsync.core.render import OUTPUT_FORMATS
from airflow_secretsync.core.report import Report
from airflow_secretsync.core.rollback import rollback


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = command_parser(
        subparsers,
        "rollback",
        COMMANDS["rollback"],
        "Undo the changes a JSON report (pipeline or apply --output json) "
        "records: modified secrets get their previous version back, created ones are "
        "deleted, deleted ones are restored; each only if unchanged since the run (else refused).\n"
        "Exit code: 0 rolled back, 2 an error or a refused secret.",
    )
    parser.add_argument("report", metavar="REPORT", help="the JSON report of the run")
    parser.add_argument("--config", required=True, help="the pipeline config of the run")
    add_targets_option(parser, "comma-separated targets to roll back (default: every target)")
    parser.add_argument("--dry-run", action="store_true", help="show the rollback, write nothing")
    parser.add_argument(
        "--output", choices=OUTPUT_FORMATS, default="human", help=output_help(OUTPUT_FORMATS)
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    report = Report.from_dict(read_document(args.report, "report"))
    undone = with_stores(
        config,
        lambda stores: rollback(config, report, stores, dry_run=args.dry_run, targets=args.targets),
    )
    return print_report(undone, args.output)
