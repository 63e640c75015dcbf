"""The core (config, core, refs, step secrets, the CLI's validate and plan) runs without Airflow."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.architecture.airflow_blocked import run_without_airflow

EXAMPLE = Path(__file__).resolve().parents[2] / "dags" / "configs" / "example.yaml"


def test_the_blocker_blocks() -> None:
    result = run_without_airflow("import airflow.sdk")
    assert result.returncode != 0
    assert "ImportError: airflow is blocked in this process: import airflow" in result.stderr


@pytest.mark.parametrize(
    "module",
    [
        "airflow_secretsync.cli",
        "airflow_secretsync.cli.validate",
        "airflow_secretsync.cli.plan",
        "airflow_secretsync.config",
        "airflow_secretsync.core",
        "airflow_secretsync.core.engine",
        "airflow_secretsync.refs",
        "airflow_secretsync.step_secrets",
        "airflow_secretsync.stores.factory",
        "airflow_secretsync.stores.http.store",
    ],
)
def test_core_modules_import_without_airflow(module: str) -> None:
    code = f"import sys, {module}\nprint([m for m in sys.modules if m.split('.')[0] == 'airflow'])"
    result = run_without_airflow(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_validate_and_plan_run_without_airflow() -> None:
    code = f"""
import json, sys
from contextlib import redirect_stdout
from io import StringIO
from airflow_secretsync.cli import main

codes = {{}}
with redirect_stdout(StringIO()) as out:
    codes["validate"] = main(["validate", {str(EXAMPLE)!r}])
    codes["plan"] = main(["plan", {str(EXAMPLE)!r}, "--output", "json"])
airflow = sorted(m for m in sys.modules if m.split(".")[0] == "airflow")
print(json.dumps({{"codes": codes, "output": out.getvalue(), "airflow": airflow}}))
"""
    result = run_without_airflow(code)
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)
    assert outcome["codes"] == {"validate": 0, "plan": 0}
    assert outcome["airflow"] == []
    validated, planned = outcome["output"].split("\n", 1)
    assert validated.startswith(f"{EXAMPLE}: valid: ")
    assert json.loads(planned)["merge_levels"]


def test_pipeline_help_runs_without_airflow() -> None:
    """``secretsync pipeline`` may import Airflow when it runs, not to show its options."""
    result = run_without_airflow(
        "import sys\nfrom airflow_secretsync.cli import main\n"
        "try:\n    main(['pipeline', '--help'])\nexcept SystemExit as exc:\n    sys.exit(exc.code)"
    )
    assert result.returncode == 0, result.stderr
    assert "--step-secret TASK:NAME=REF" in result.stdout
