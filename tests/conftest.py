"""Session fixtures: real OpenBao and moto servers, and a throw-away Airflow home with SQLite.

The Airflow environment is set before anything imports Airflow, so every test (and every
subprocess it starts) uses the temporary home, never the developer's own.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.airflow_home import DAGS_BUNDLE, airflow_home_env, migrate_db
from devtools.apiservers.base import ApiServer, start_api_server
from devtools.servers import LocalServers, local_servers

_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="secretsync-airflow-home-"))
TEST_DAGS = _AIRFLOW_HOME / "test_dags"
TEST_DAGS.mkdir()
_BUNDLES = [
    DAGS_BUNDLE,
    {
        "name": "test-dags",
        "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
        "kwargs": {"path": str(TEST_DAGS)},
    },
]
os.environ.update(
    {
        **airflow_home_env(_AIRFLOW_HOME),
        "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps(_BUNDLES),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
)


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_AIRFLOW_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def servers() -> Iterator[LocalServers]:
    """OpenBao + moto on 127.0.0.1; Airflow's default connections point at them."""
    with local_servers() as running:
        saved = {k: os.environ.get(k) for k in running.airflow_env()}
        os.environ.update(running.airflow_env())
        try:
            yield running
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


@pytest.fixture(scope="session")
def airflow_db(servers: LocalServers) -> Path:
    """Migrate the temporary Airflow metadata database once per session."""
    migrate_db(os.environ.copy())
    return _AIRFLOW_HOME


@pytest.fixture
def dag_file(airflow_db: Path):
    """Write DAG source into the test bundle and return the DAG it defines (for ``dag.test()``)."""
    written: list[Path] = []

    def load(dag_id: str, source: str):
        path = TEST_DAGS / f"{dag_id}.py"
        path.write_text(source)
        written.append(path)
        spec = importlib.util.spec_from_file_location(f"test_dag_{dag_id}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.dag

    yield load
    for path in written:
        path.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def airflow_standalone():
    """``airflow standalone`` (api-server, scheduler, dag-processor, triggerer) serving the
    repo's ``dags/``, with its own OpenBao and moto seeded with the example sources."""
    from devtools.airflow_ui import local_airflow
    from devtools.servers import free_port

    with local_airflow(port=free_port()) as running:
        yield running


@pytest.fixture
def vault_client(servers: LocalServers):
    """An hvac client on the dev server, authenticated with the root token."""
    import hvac

    return hvac.Client(url=servers.vault.url, token=servers.vault.token)


@pytest.fixture
def aws_client(servers: LocalServers):
    """A boto3 client factory for the moto server: ``aws_client("secretsmanager")``."""
    import boto3

    def make(service: str, region: str = "us-east-1"):
        return boto3.client(service, endpoint_url=servers.aws.url, region_name=region)

    return make


def _api_server(kind: str, tls: tuple[str, str] | None = None) -> Iterator[ApiServer]:
    """One local API server process (see devtools.apiservers) for the whole session."""
    server = start_api_server(kind, tls=tls)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def github_api() -> Iterator[ApiServer]:
    yield from _api_server("github")


@pytest.fixture(scope="session")
def kubernetes_api() -> Iterator[ApiServer]:
    yield from _api_server("kubernetes")


@pytest.fixture(scope="session")
def gcp_api() -> Iterator[ApiServer]:
    yield from _api_server("gcp")


@pytest.fixture(scope="session")
def json_document_api() -> Iterator[ApiServer]:
    """The local JSON document server (plain HTTP) for the ``http`` source."""
    yield from _api_server("json_document")


@pytest.fixture(scope="session")
def json_document_https(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """The JSON document server over HTTPS with a fresh self-signed certificate
    (``server.tls_cert`` is also its CA bundle)."""
    from devtools.apiservers.tls import self_signed_certificate

    yield from _api_server("json_document", self_signed_certificate(tmp_path_factory.mktemp("tls")))
