"""The ``secretsync`` command line: argument parsing and dispatch to subcommand modules."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Collection, Sequence

from airflow_secretsync import __version__
from airflow_secretsync.client_logging import quiet_client_loggers
from airflow_secretsync.core.render import plain_text
from airflow_secretsync.errors import SecretSyncError

EXIT_OK = 0
EXIT_CHANGES = 1
EXIT_ERROR = 2

#: Subcommand -> its one-line help. Each is the module ``cli.<name>``, which exposes
#: ``register(subparsers)`` and sets ``handler`` on its parser. Modules are imported only
#: when their command runs, so ``validate`` and ``plan`` never load ``pipeline``'s imports.
COMMANDS: dict[str, str] = {
    "validate": "check a pipeline config (no network access)",
    "plan": "show what a run would merge and sync; with --out, write a reviewed plan",
    "pipeline": "merge sources and sync destinations",
    "apply": "apply exactly a plan written by 'plan --out'",
    "rollback": "undo what a run applied, from its JSON report",
}


def build_parser(commands: Collection[str] = tuple(COMMANDS)) -> argparse.ArgumentParser:
    """The top-level parser: the modules of ``commands`` add their sub-parsers; the other
    commands are listed (for ``--help``) without importing their modules."""
    from airflow_secretsync.cli.console import HELP_FORMATTER

    parser = argparse.ArgumentParser(
        prog="secretsync",
        description="Merge secrets from sources and sync them to each target's store, as a "
        "pipeline YAML file describes.",
        epilog="Run 'secretsync COMMAND --help' for a command's arguments.",
        formatter_class=HELP_FORMATTER,
    )
    parser.add_argument("--version", action="version", version=f"secretsync {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, text in COMMANDS.items():
        if name in commands:
            importlib.import_module(f"airflow_secretsync.cli.{name}").register(subparsers)
        else:
            subparsers.add_parser(name, help=text)
    return parser


def _command(argv: Sequence[str]) -> str | None:
    """The subcommand ``argv`` names: its first word that is not an option."""
    return next((word for word in argv if not word.startswith("-")), None)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``secretsync`` console script; returns the process exit code."""
    from airflow_secretsync.cli.console import quiet_third_party_logs

    quiet_third_party_logs()
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(commands={_command(argv)} & COMMANDS.keys())
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return EXIT_ERROR
    try:
        with quiet_client_loggers():
            return int(args.handler(args))
    except SecretSyncError as exc:
        print(f"error: {plain_text(str(exc))}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
