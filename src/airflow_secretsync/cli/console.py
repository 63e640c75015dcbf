"""Keep the CLI's stdout for its result: logs and progress go to stderr."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout

from rich.console import Console

from airflow_secretsync.core.render import plain_text

PROGRESS_AFTER_SECONDS = 1.0


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
    to stderr, and INFO records of ``progress_logger`` show as progress lines."""
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
    try:
        with redirect_stdout(sys.stderr):
            yield
    finally:
        ours.removeHandler(progress)
        ours.level, ours.propagate = saved
        root.setLevel(saved_level)
        for handler in moved:
            handler.setStream(sys.stdout)
