"""``secretsync pipeline``: run merge and/or sync from a config file and print the report."""

from __future__ import annotations

import argparse
import logging
import sys
import time

from rich.console import Console

from airflow_secretsync.cli import EXIT_CHANGES, EXIT_ERROR, EXIT_OK
from airflow_secretsync.config import load_config
from airflow_secretsync.core.engine import Engine, RunOptions
from airflow_secretsync.core.render import OUTPUT_FORMATS, render
from airflow_secretsync.core.report import Report
from airflow_secretsync.stores.factory import StoreFactory

PROGRESS_AFTER_SECONDS = 1.0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "pipeline", help="merge sources and sync destinations", description=__doc__
    )
    parser.add_argument("--config", required=True, help="pipeline YAML file")
    parser.add_argument("--targets", help="comma-separated targets (ancestors are merged too)")
    phase = parser.add_mutually_exclusive_group()
    phase.add_argument("--merge-only", action="store_true", help="run the merge phase only")
    phase.add_argument("--sync-only", action="store_true", help="sync from the merge store only")
    parser.add_argument("--dry-run", action="store_true", help="diff and report, write nothing")
    parser.add_argument("--output", choices=OUTPUT_FORMATS, default="human")
    parser.add_argument(
        "--exit-code", action="store_true", help="exit 1 when changes were found or applied"
    )
    parser.set_defaults(handler=run)


class _ProgressHandler(logging.Handler):
    """Engine progress on stderr, once a run has taken longer than a moment."""

    def __init__(self, console: Console) -> None:
        super().__init__(logging.INFO)
        self.console = console
        self.started = time.monotonic()

    def emit(self, record: logging.LogRecord) -> None:
        if time.monotonic() - self.started >= PROGRESS_AFTER_SECONDS:
            self.console.print(f"… {record.getMessage()}", markup=False, highlight=False)


def exit_code(report: Report, *, changes_matter: bool) -> int:
    """0 success; 1 changes found (with ``--exit-code``); 2 any failed target."""
    if report.failed:
        return EXIT_ERROR
    return EXIT_CHANGES if changes_matter and report.has_changes else EXIT_OK


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    mode = "merge-only" if args.merge_only else "sync-only" if args.sync_only else "full"
    targets = (
        tuple(t.strip() for t in args.targets.split(",") if t.strip()) if args.targets else None
    )
    options = RunOptions(
        dry_run=args.dry_run or config.pipeline.dry_run, mode=mode, targets=targets or None
    )
    logger = logging.getLogger("airflow_secretsync.engine")
    handler = _ProgressHandler(Console(stderr=True))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        stores = StoreFactory(config)
        try:
            report = Engine(config, stores, options).run()
        finally:
            stores.close()
    finally:
        logger.removeHandler(handler)
    text = render(report, args.output)
    if args.output == "human":
        Console(highlight=False).print(text, markup=False)
    else:
        sys.stdout.write(text + "\n")
    return exit_code(report, changes_matter=args.exit_code)
