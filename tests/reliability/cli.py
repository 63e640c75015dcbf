"""Run ``secretsync`` in-process and keep everything it printed."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from airflow_secretsync.cli import main


@dataclass(frozen=True)
class CliResult:
    code: int
    out: str
    err: str

    @property
    def report(self) -> dict[str, Any]:
        return json.loads(self.out)

    def target(self, name: str) -> dict[str, Any]:
        return next(t for t in self.report["targets"] if t["target"] == name)


def secretsync(*args: str | Path) -> CliResult:
    """``secretsync ARGS`` with stdout and stderr captured (argparse exits become codes)."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main([str(arg) for arg in args])
        except SystemExit as exc:  # argparse usage errors
            code = exc.code if isinstance(exc.code, int) else 2
    return CliResult(code, out.getvalue(), err.getvalue())
