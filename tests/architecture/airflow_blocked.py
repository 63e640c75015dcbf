"""Run Python code in a subprocess where any import of ``airflow`` fails (as if not installed)."""

from __future__ import annotations

import os
import subprocess
import sys

# Installed first on sys.meta_path: ``airflow`` and ``airflow.*`` raise ImportError, so a
# module that imports Airflow at any depth fails loudly instead of loading it.
BLOCKER = """\
import sys
from importlib.abc import MetaPathFinder


class _BlockAirflow(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "airflow" or name.startswith("airflow."):
            raise ImportError(f"airflow is blocked in this process: import {name}")
        return None


sys.meta_path.insert(0, _BlockAirflow())
"""


def run_without_airflow(code: str, *, cwd: str | None = None) -> subprocess.CompletedProcess:
    """``python -c BLOCKER + code`` with this process's environment (``PYTHONPATH`` included)."""
    return subprocess.run(
        [sys.executable, "-c", BLOCKER + code],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=os.environ.copy(),
        timeout=120,
    )
