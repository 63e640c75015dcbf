"""A throw-away Airflow home (SQLite): one definition for the tests, demo, UI and benchmarks.

Nothing of the developer's own ``~/airflow`` is read or written.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from devtools.paths import REPO
from devtools.servers import LocalServers

AIRFLOW = str(Path(sys.executable).with_name("airflow"))


def dags_bundle(folder: Path) -> dict[str, object]:
    """The DAG bundle of a local folder, as Airflow's ``dag_bundle_config_list`` takes it."""
    return {
        "name": "dags-folder",
        "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
        "kwargs": {"path": str(folder)},
    }


DAGS_BUNDLE = dags_bundle(REPO / "dags")


def inherited_environ() -> dict[str, str]:
    """This process's environment without Airflow's parsing context.

    A process that ran a task in-process (``dag.test()``) keeps ``_AIRFLOW_PARSING_CONTEXT_*``
    set; an Airflow started with it would parse a DAG as the process running that one task
    does, and a generated pipeline DAG then holds only that task (see ``build_dag``).
    """
    return {k: v for k, v in os.environ.items() if not k.startswith("_AIRFLOW_PARSING_CONTEXT_")}


def airflow_home_env(
    home: Path, *, log_level: str = "INFO", database_url: str | None = None
) -> dict[str, str]:
    """The environment of an Airflow whose home and logs are under ``home``, whose metadata
    database is SQLite in that home unless ``database_url`` names another, and whose DAGs
    folder is the repository's ``dags/``."""
    return {
        "AIRFLOW_HOME": str(home),
        "SECRETSYNC_CONFIG_CACHE": str(home / "config-cache"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": database_url or f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        # only the repository's DAGs, whatever bundles the calling process was given
        "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps([DAGS_BUNDLE]),
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": log_level,
    }


def migrate_db(env: dict[str, str]) -> None:
    """``airflow db migrate`` in ``env``; its output is shown only if it fails."""
    migrate = subprocess.run([AIRFLOW, "db", "migrate"], env=env, capture_output=True)
    if migrate.returncode:
        raise RuntimeError(f"airflow db migrate failed:\n{migrate.stderr.decode()[-3000:]}")


@contextmanager
def airflow_home(
    servers: LocalServers, *, keep: bool = False, database_url: str | None = None
) -> Iterator[dict[str, str]]:
    """Yield an environment with a migrated temporary ``AIRFLOW_HOME`` and connections set
    (SQLite unless ``database_url`` names another metadata database)."""
    home = Path(tempfile.mkdtemp(prefix="secretsync-airflow-"))
    env = {
        **inherited_environ(),
        **servers.airflow_env(),
        **airflow_home_env(home, database_url=database_url),
    }
    try:
        migrate_db(env)
        yield env
    finally:
        if not keep:
            shutil.rmtree(home, ignore_errors=True)


def dags_test(env: dict[str, str], dag_id: str, conf: str | None = None) -> tuple[bool, str]:
    """``airflow dags test`` with its output captured: (whether the run succeeded, the output)."""
    cmd = [AIRFLOW, "dags", "test", dag_id]
    if conf:
        cmd += ["--conf", conf]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True)
    output = result.stdout + result.stderr
    return result.returncode == 0 and "state=success" in output, output


def _metadata_db(env: dict[str, str]) -> sqlite3.Connection:
    return sqlite3.connect(Path(env["AIRFLOW_HOME"]) / "airflow.db")


def latest_xcom(env: dict[str, str], dag_id: str, task_id: str) -> object:
    """The ``return_value`` XCom of ``task_id`` in the newest run of ``dag_id`` (None if none)."""
    with _metadata_db(env) as conn:
        row = conn.execute(
            "SELECT value FROM xcom WHERE dag_id=? AND task_id=? AND key='return_value' "
            "ORDER BY timestamp DESC LIMIT 1",
            (dag_id, task_id),
        ).fetchone()
    if row is None:
        return None
    return json.loads(row[0] if isinstance(row[0], str) else row[0].decode())


def latest_run_id(env: dict[str, str], dag_id: str) -> str | None:
    """The run id of the newest run of ``dag_id`` (None if none)."""
    with _metadata_db(env) as conn:
        row = conn.execute(
            "SELECT run_id FROM dag_run WHERE dag_id=? ORDER BY id DESC LIMIT 1", (dag_id,)
        ).fetchone()
    return None if row is None else row[0]


def latest_task_states(env: dict[str, str], dag_id: str) -> dict[str, str]:
    """Task id -> state in the newest run of ``dag_id``."""
    with _metadata_db(env) as conn:
        rows = conn.execute(
            "SELECT task_id, state FROM task_instance WHERE run_id = (SELECT run_id FROM dag_run "
            "WHERE dag_id=? ORDER BY id DESC LIMIT 1) AND dag_id=?",
            (dag_id, dag_id),
        ).fetchall()
    return dict(rows)
