"""What ``plan --out``, ``apply`` and ``rollback`` share: reading a plan or report file,
running against the stores and printing a report."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from airflow_secretsync.cli import EXIT_ERROR, EXIT_OK
from airflow_secretsync.cli.console import logs_to_stderr
from airflow_secretsync.config import PipelineConfig
from airflow_secretsync.core.render import render
from airflow_secretsync.core.report import Report
from airflow_secretsync.errors import SecretSyncError
from airflow_secretsync.stores.factory import StoreFactory


def read_document(path: str, what: str) -> dict[str, Any]:
    """A JSON object from ``path``; a clear :class:`SecretSyncError` naming the file otherwise."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise SecretSyncError(f"{path}: cannot read the {what} ({exc.strerror})") from None
    except ValueError as exc:
        raise SecretSyncError(f"{path}: not a JSON {what} (line {exc.lineno})") from None  # type: ignore[attr-defined]
    if not isinstance(data, dict):
        raise SecretSyncError(f"{path}: not a JSON {what} (expected an object)")
    return data


def with_stores(config: PipelineConfig, run: Callable[[StoreFactory], Any]) -> Any:
    """``run(stores)`` with logs on stderr, closing the stores' clients after."""
    with logs_to_stderr():
        stores = StoreFactory(config)
        try:
            return run(stores)
        finally:
            stores.close()


def print_report(report: Report, output: str) -> int:
    """The report on stdout; exit 2 when a target failed or refused something, else 0."""
    sys.stdout.write(render(report, output) + "\n")
    return EXIT_ERROR if report.failed else EXIT_OK
