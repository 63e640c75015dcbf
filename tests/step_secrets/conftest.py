"""``worker_runs``: make ``dag.test()`` run each task the way a real worker does.

``dag.test()`` runs tasks inside the test process and writes no task log. With this fixture each
task goes through Airflow's task supervisor instead: a forked task process that re-parses the DAG
file from its bundle (so only what the DAG file declares exists at run time), and a log file under
``$AIRFLOW_HOME/logs`` with Airflow's secret masking applied.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest


@pytest.fixture
def worker_runs(monkeypatch: pytest.MonkeyPatch, airflow_db: Path) -> None:
    from airflow.executors import workloads
    from airflow.models.taskinstance import TaskInstance
    from airflow.sdk.execution_time import supervisor
    from airflow.utils.session import create_session

    def run_in_worker(*, ti, task, client=None):
        with create_session() as session:
            workload = workloads.ExecuteTask.make(
                session.get(TaskInstance, ti.id),
                dag_rel_path=Path(Path(task.dag.fileloc).name),
                bundle_info=workloads.BundleInfo(name="test-dags"),
            )
        supervisor.supervise_task(
            ti=workload.ti,
            bundle_info=workload.bundle_info,
            dag_rel_path=workload.dag_rel_path,
            token="",
            client=client or supervisor.InProcessTestSupervisor._api_client(task.dag),
            log_path=workload.log_path,
        )
        with create_session() as session:
            state = session.get(TaskInstance, ti.id).state
        return supervisor.TaskRunResult(
            ti=SimpleNamespace(state=state, task=task), state=state, msg=None, error=None
        )

    monkeypatch.setattr(supervisor, "run_task_in_process", run_in_worker)
