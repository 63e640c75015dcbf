"""Fixtures of the reliability suite: a restartable OpenBao, and Airflow connections per test."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.openbao import PersistentOpenBao
from tests.step_secrets.conftest import worker_runs  # noqa: F401 - tasks in worker processes


@pytest.fixture(scope="session")
def persistent_bao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PersistentOpenBao]:
    """A private OpenBao with persistent storage, separate from the session's dev server."""
    server = PersistentOpenBao(tmp_path_factory.mktemp("openbao"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def airflow_conn(monkeypatch: pytest.MonkeyPatch):
    """Define an Airflow connection (``AIRFLOW_CONN_<ID>``) for one test: JSON text or fields."""

    def define(conn_id: str, connection: str | dict[str, Any]) -> str:
        text = connection if isinstance(connection, str) else json.dumps(connection)
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", text)
        return conn_id

    return define


@pytest.fixture
def aws_connection(servers) -> dict[str, Any]:
    """The fields of the session's AWS connection, to derive variants from."""
    return json.loads(servers.aws.connection_uri())


@pytest.fixture
def home(airflow_db: Path) -> Path:
    """The session's ``AIRFLOW_HOME`` (its ``airflow.db`` and ``logs/``)."""
    return airflow_db
