"""Keep the CLI's stdout for its result: logs and progress go to stderr."""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout

from rich.console import Console

PROGRESS_AFTER_SECONDS = 1.0
# Third-party chatter that says nothing to a CLI user: the AWS hook's "credentials retrieved
# from login and password" and urllib3's "Retrying ..." before a connection error we report.
QUIET_LOGGERS = {
    "airflow.providers.amazon.aws.utils.connection_wrapper": "warning",
    "urllib3.connectionpool": "error",
}
NAMESPACE_LEVELS = "AIRFLOW__LOGGING__NAMESPACE_LEVELS"


def quiet_third_party_logs() -> None:
    """Lower :data:`QUIET_LOGGERS` through Airflow's ``[logging] namespace_levels``; call before
    Airflow is imported. Levels the user set there win."""
    ours = " ".join(f"{name}={level}" for name, level in QUIET_LOGGERS.items())
    theirs = os.environ.get(NAMESPACE_LEVELS, "")
    os.environ[NAMESPACE_LEVELS] = f"{ours} {theirs}".strip()


class ProgressHandler(logging.Handler):
    """Progress lines on stderr, once a run has taken longer than a moment."""

    def __init__(self, console: Console) -> None:
        super().__init__(logging.INFO)
        self.console = console
        self.started = time.monotonic()

    def emit(self, record: logging.LogRecord) -> None:
        if time.monotonic() - self.started >= PROGRESS_AFTER_SECONDS:
            self.console.print(f"… {record.getMessage()}", markup=False, highlight=False)


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
