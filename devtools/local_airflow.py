"""A throw-away Airflow home (SQLite) wired to the local servers, for demo and the UI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from devtools.servers import LocalServers

REPO = Path(__file__).resolve().parent.parent
AIRFLOW = str(Path(sys.executable).with_name("airflow"))


@contextmanager
def airflow_home(
    servers: LocalServers, *, keep: bool = False, database_url: str | None = None
) -> Iterator[dict[str, str]]:
    """Yield an environment with a migrated temporary ``AIRFLOW_HOME`` and connections set;
    the metadata database is SQLite in that home unless ``database_url`` names another."""
    home = Path(tempfile.mkdtemp(prefix="secretsync-airflow-"))
    env = {
        **os.environ,
        **servers.airflow_env(),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": database_url or f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
    }
    try:
        migrate = subprocess.run([AIRFLOW, "db", "migrate"], env=env, capture_output=True)
        if migrate.returncode:
            raise RuntimeError(f"airflow db migrate failed:\n{migrate.stderr.decode()[-3000:]}")
        yield env
    finally:
        if not keep:
            shutil.rmtree(home, ignore_errors=True)


def dags_test(env: dict[str, str], dag_id: str, conf: str | None = None) -> bool:
    """``airflow dags test`` (output kept quiet); True when the run succeeded."""
    cmd = [AIRFLOW, "dags", "test", dag_id]
    if conf:
        cmd += ["--conf", conf]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True)
    return result.returncode == 0 and "state=success" in result.stdout + result.stderr
