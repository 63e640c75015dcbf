"""`make airflow` plumbing (devtools/airflow_ui.py). The whole stack is driven by `make e2e`."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path

import pytest

from devtools.airflow_ui import (
    PASSWORDS_FILE,
    admin_password,
    choose_port,
    standalone_env,
    stop_process_group,
)
from devtools.paths import REPO
from devtools.servers import HOST, free_port


def test_preferred_port_when_free_else_another_free_one() -> None:
    port = free_port()
    assert choose_port(port) == port
    with socket.socket() as busy:
        busy.bind((HOST, port))
        busy.listen()
        other = choose_port(port)
    assert other != port
    with socket.socket() as check:
        check.bind((HOST, other))


def test_every_component_agrees_on_one_loopback_url(tmp_path: Path) -> None:
    env = standalone_env(tmp_path, 8123)
    assert env["AIRFLOW__API__HOST"] == "127.0.0.1"
    assert env["AIRFLOW__API__PORT"] == "8123"
    assert env["AIRFLOW__API__BASE_URL"] == "http://127.0.0.1:8123"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:8123/execution/"
    assert len(env["AIRFLOW__API_AUTH__JWT_SECRET"]) >= 32
    assert (
        env["AIRFLOW__API_AUTH__JWT_SECRET"]
        != standalone_env(tmp_path, 8123)["AIRFLOW__API_AUTH__JWT_SECRET"]
    )
    (bundle,) = json.loads(env["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"])
    assert bundle["kwargs"]["path"] == str(REPO / "dags")
    first_path = env["PATH"].split(os.pathsep)[0]
    assert os.access(Path(first_path) / "airflow", os.X_OK)  # standalone runs plain `airflow`
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"] == str(
        tmp_path / PASSWORDS_FILE
    )


def test_admin_password_is_read_once_written(tmp_path: Path) -> None:
    assert admin_password(tmp_path) is None
    (tmp_path / PASSWORDS_FILE).write_text("")  # created, not yet filled
    assert admin_password(tmp_path) is None
    (tmp_path / PASSWORDS_FILE).write_text('{"admin": "generated-pw"}\n')
    assert admin_password(tmp_path) == "generated-pw"


def test_stopping_ends_every_process_of_the_group() -> None:
    process = subprocess.Popen(["sh", "-c", "sleep 120 & sleep 120 & wait"], start_new_session=True)
    stop_process_group(process, grace=20)
    assert process.returncode is not None
    with pytest.raises(ProcessLookupError):  # no child of it is left either
        os.killpg(process.pid, 0)
