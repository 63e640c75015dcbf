"""``secretsync validate CONFIG``: check a pipeline file and report every mistake in it."""

from __future__ import annotations

import argparse
import sys

from airflow_secretsync.cli import COMMANDS, EXIT_ERROR, EXIT_OK
from airflow_secretsync.config import build_plan, load_config
from airflow_secretsync.errors import ConfigError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("validate", help=COMMANDS["validate"], description=__doc__)
    parser.add_argument("config", metavar="CONFIG", help="pipeline YAML file")
    parser.set_defaults(handler=run)


def print_config_errors(exc: ConfigError) -> int:
    """Every error of ``exc`` on stderr, one per line, then a count; returns the exit code."""
    for line in exc.errors:
        print(f"error: {line}", file=sys.stderr)
    count = len(exc.errors)
    print(f"{count} error{'s' if count != 1 else ''} found", file=sys.stderr)
    return EXIT_ERROR


def run(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
        plan = build_plan(config)
    except ConfigError as exc:
        return print_config_errors(exc)
    synced = sum(1 for target in config.targets.values() if target.destination is not None)
    print(
        f"{args.config}: valid: {len(config.sources)} sources, {len(config.targets)} targets "
        f"({synced} with a destination), {len(plan.merge_levels)} merge levels"
    )
    return EXIT_OK
