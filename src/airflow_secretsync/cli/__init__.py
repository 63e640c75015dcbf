"""The ``secretsync`` command line: argument parsing and dispatch to subcommand modules."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from airflow_secretsync import __version__
from airflow_secretsync.errors import SecretSyncError

EXIT_OK = 0
EXIT_CHANGES = 1
EXIT_ERROR = 2

# Subcommand modules; each exposes ``register(subparsers)`` and sets ``handler`` on its parser.
COMMAND_MODULES: tuple[str, ...] = ("validate", "plan", "pipeline")


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser; each subcommand module adds its own sub-parser."""
    parser = argparse.ArgumentParser(
        prog="secretsync", description="Merge and sync secrets across Vault and AWS."
    )
    parser.add_argument("--version", action="version", version=f"secretsync {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"airflow_secretsync.cli.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``secretsync`` console script; returns the process exit code."""
    from airflow_secretsync.cli.console import quiet_third_party_logs

    quiet_third_party_logs()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return EXIT_ERROR
    try:
        return int(args.handler(args))
    except SecretSyncError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
