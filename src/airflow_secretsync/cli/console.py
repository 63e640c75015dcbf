"""What every subcommand shares: its parser's look and config argument, and a stdout kept for
its result (logs and progress go to stderr)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout

from rich.console import Console
from rich_argparse import RawDescriptionRichHelpFormatter

from airflow_secretsync.core.render import plain_text

PROGRESS_AFTER_SECONDS = 1.0
# Third-party chatter that says nothing to a CLI user: the AWS hook's "credentials retrieved
# from login and password" and urllib3's "Retrying ..." before a connection error we report.
QUIET_LOGGERS = {
    "airflow.providers.amazon.aws.utils.connection_wrapper": "warning",
    "urllib3.connectionpool": "error",
}
NAMESPACE_LEVELS = "AIRFLOW__LOGGING__NAMESPACE_LEVELS"
OUTPUT_HELP = {
    "human": "readable text (default)",
    "json": "the report as JSON (SPEC §4)",
    "github": "GitHub Actions annotations and step outputs",
    "compact": "one line, with the reason of each failed target",
}


HELP_FORMATTER = RawDescriptionRichHelpFormatter  # Rich help, as Airflow's; our line breaks


def command_parser(
    subparsers: argparse._SubParsersAction, name: str, summary: str, description: str
) -> argparse.ArgumentParser:
    """A subcommand parser with the same help look as every other ``secretsync`` command."""
    return subparsers.add_parser(
        name, help=summary, description=description, formatter_class=HELP_FORMATTER
    )


def add_command(
    subparsers: argparse._SubParsersAction, name: str, summary: str, description: str
) -> argparse.ArgumentParser:
    """A :func:`command_parser` with the ``CONFIG`` argument, which is accepted both as
    ``secretsync NAME CONFIG`` and ``secretsync NAME --config CONFIG``."""
    parser = command_parser(subparsers, name, summary, description)
    parser.add_argument(
        "config", nargs="?", metavar="CONFIG", action=_OnceConfig, help="pipeline YAML file"
    )
    parser.add_argument(
        "--config",
        dest="config",
        metavar="CONFIG",
        action=_OnceConfig,
        help="the same, as an option",
    )
    parser.set_defaults(config_parser=parser)
    return parser


def add_targets_option(parser: argparse.ArgumentParser, help_text: str) -> None:
    """``--targets A,B`` (repeatable): ``args.targets`` is a list of names, or None."""
    parser.add_argument(
        "--targets",
        type=lambda text: [name.strip() for name in text.split(",") if name.strip()],
        action="extend",
        metavar="A,B",
        help=help_text,
    )


def output_help(choices: tuple[str, ...]) -> str:
    """``--output`` help naming what each format is for."""
    return "report format: " + "; ".join(f"{name}: {OUTPUT_HELP[name]}" for name in choices)


class _OnceConfig(argparse.Action):
    """Store the config file given positionally or with ``--config``, refusing both."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:  # type: ignore[override]
        if values is None:  # the positional form, absent
            return
        if getattr(namespace, self.dest, None) is not None:
            parser.error("give the config file once: either CONFIG or --config CONFIG")
        setattr(namespace, self.dest, values)


def config_file(args: argparse.Namespace) -> str:
    """The config file of a parsed subcommand; a usage error when none was given."""
    if args.config is None:
        args.config_parser.error("the pipeline config file is required: CONFIG or --config CONFIG")
    return args.config


def quiet_third_party_logs() -> None:
    """Lower :data:`QUIET_LOGGERS` through Airflow's ``[logging] namespace_levels``; call before
    Airflow is imported. Levels the user set there win."""
    theirs = dict(
        item.split("=", 1) for item in os.environ.get(NAMESPACE_LEVELS, "").split() if "=" in item
    )
    levels = {**QUIET_LOGGERS, **theirs}  # idempotent: calling it again changes nothing
    os.environ[NAMESPACE_LEVELS] = " ".join(f"{name}={level}" for name, level in levels.items())


class ProgressHandler(logging.Handler):
    """Progress lines on stderr, once a run has taken longer than a moment."""

    def __init__(self, console: Console) -> None:
        super().__init__(logging.INFO)
        self.console = console
        self.started = time.monotonic()

    def emit(self, record: logging.LogRecord) -> None:
        if time.monotonic() - self.started >= PROGRESS_AFTER_SECONDS:
            self.console.print(
                f"… {plain_text(record.getMessage())}", markup=False, highlight=False
            )


@contextmanager
def logs_to_stderr(progress_logger: str = "airflow_secretsync") -> Iterator[None]:
    """For the duration: root log handlers write to stderr at WARNING, anything printed goes
    to stderr, INFO records of ``progress_logger`` show as progress lines, and the standard
    library's :data:`QUIET_LOGGERS` say less."""
    import airflow.settings  # noqa: F401 - Airflow configures logging on import; do it first

    root = logging.getLogger()
    moved = [
        h
        for h in root.handlers
        if isinstance(h, logging.StreamHandler) and h.stream in (sys.stdout, sys.__stdout__)
    ]
    for handler in moved:
        handler.setStream(sys.stderr)
    saved_level = root.level
    root.setLevel(logging.WARNING)
    ours = logging.getLogger(progress_logger)
    saved = (ours.level, ours.propagate)
    progress = ProgressHandler(Console(stderr=True))
    ours.addHandler(progress)
    ours.setLevel(logging.INFO)
    ours.propagate = False
    quiet = {logging.getLogger(name): level.upper() for name, level in QUIET_LOGGERS.items()}
    saved_quiet = {logger: logger.level for logger in quiet}
    for logger, level in quiet.items():
        logger.setLevel(level)
    try:
        with redirect_stdout(sys.stderr):
            yield
    finally:
        for logger, level in saved_quiet.items():
            logger.setLevel(level)
        ours.removeHandler(progress)
        ours.level, ours.propagate = saved
        root.setLevel(saved_level)
        for handler in moved:
            handler.setStream(sys.stdout)
