"""``secretsync validate CONFIG``: check a pipeline file and report every mistake in it."""

from __future__ import annotations

import argparse
import sys

from airflow_secretsync.cli import COMMANDS, EXIT_ERROR, EXIT_OK
from airflow_secretsync.cli.console import add_command, config_file
from airflow_secretsync.config import build_plan, load_config
from airflow_secretsync.core.render import plural
from airflow_secretsync.errors import ConfigError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(
        subparsers,
        "validate",
        COMMANDS["validate"],
        "Check a pipeline file and report every mistake in it, by file, line and key.",
    )
    parser.set_defaults(handler=run)


def print_config_errors(exc: ConfigError) -> int:
    """Every error of ``exc`` on stderr, one per line, then a count; returns the exit code."""
    for line in exc.errors:
        print(f"error: {line}", file=sys.stderr)
    count = len(exc.errors)
    print(f"{count} error{'s' if count != 1 else ''} found", file=sys.stderr)
    return EXIT_ERROR


def run(args: argparse.Namespace) -> int:
    path = config_file(args)
    try:
        config = load_config(path)
        plan = build_plan(config)
    except ConfigError as exc:
        return print_config_errors(exc)
    synced = sum(1 for target in config.targets.values() if target.destination is not None)
    print(
        f"{path}: valid: {plural(len(config.sources), 'source')}, "
        f"{plural(len(config.targets), 'target')} ({synced} with a destination), "
        f"{plural(len(plan.merge_levels), 'merge level')}"
    )
    return EXIT_OK
