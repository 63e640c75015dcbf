"""docker-compose.yaml and docker/: structure checks (no Docker engine is needed) and the compose
connection strings exercised against the real local OpenBao and moto servers."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import boto3
import hvac
import pytest
import yaml

from airflow_secretsync.cli import main as secretsync
from airflow_secretsync.config import load_config
from devtools.apiservers.base import API_TOKEN
from devtools.isolated_servers import isolated_servers
from devtools.paths import REPO
from devtools.servers import AWS_REGION, VAULT_TOKEN, LocalServers

COMPOSE = yaml.safe_load((REPO / "docker-compose.yaml").read_text())
SERVICES = COMPOSE["services"]
AIRFLOW_COMPONENTS = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-triggerer": "triggerer",
    "airflow-worker": "celery worker",
}
AIRFLOW_SERVICES = [*AIRFLOW_COMPONENTS, "airflow-init"]
#: The local API servers (devtools/apiservers) of the example's GitHub and Kubernetes targets.
API_SERVERS = {"github-api": "github", "kubernetes-api": "kubernetes"}
EXAMPLE = REPO / "dags" / "configs" / "example.yaml"
DEFAULT_RE = re.compile(r"^\$\{(?P<name>\w+):-(?P<default>[^}]*)\}$")


def env_of(service: str) -> dict[str, str]:
    return {k: str(v) for k, v in SERVICES[service]["environment"].items()}


def compose_default(value: str) -> str:
    """The value compose uses when the variable is unset: ``${NAME:-default}`` -> default."""
    match = DEFAULT_RE.match(value)
    return match["default"] if match else value


def container_port(service: str) -> int:
    """The container side of the service's (single) published port."""
    (mapping,) = SERVICES[service]["ports"]
    return int(mapping.rsplit(":", 1)[1])


def dockerfile_copies() -> dict[str, str]:
    """``COPY`` destinations in docker/Dockerfile, each file mapped to its source path."""
    copies: dict[str, str] = {}
    for line in (REPO / "docker" / "Dockerfile").read_text().splitlines():
        if not line.startswith("COPY "):
            continue
        *sources, dest = [part for part in line.split()[1:] if not part.startswith("--")]
        for source in sources:
            if dest.endswith("/"):
                copies[str(PurePosixPath(dest) / PurePosixPath(source).name)] = source
            else:
                copies[dest] = source
    return copies


def test_every_component_of_a_celery_deployment_is_a_service() -> None:
    expected = {"postgres", "redis", "openbao", "moto", *API_SERVERS, *AIRFLOW_SERVICES}
    assert expected <= set(SERVICES)
    for service, command in AIRFLOW_COMPONENTS.items():
        assert SERVICES[service]["command"] == command
        assert SERVICES[service]["depends_on"]["airflow-init"] == {
            "condition": "service_completed_successfully"
        }
        assert "healthcheck" in SERVICES[service]


def test_celery_executor_settings_point_at_the_compose_services() -> None:
    for service in AIRFLOW_SERVICES:
        env = env_of(service)
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://:@redis:6379/")
        for key in ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__CELERY__RESULT_BACKEND"):
            assert "@postgres/airflow" in env[key], key
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == (
            f"http://airflow-apiserver:{container_port('airflow-apiserver')}/execution/"
        )
        assert env["AIRFLOW__API_AUTH__JWT_SECRET"]  # one shared secret, or task tokens fail


def test_workers_can_be_scaled() -> None:
    worker = SERVICES["airflow-worker"]
    assert "container_name" not in worker
    assert "ports" not in worker
    assert worker["environment"]["DUMB_INIT_SETSID"] == "0"


def test_every_airflow_service_runs_the_image_built_from_docker_dockerfile() -> None:
    for service in AIRFLOW_SERVICES:
        build = SERVICES[service]["build"]
        assert (REPO / build["context"] / build["dockerfile"]).is_file()
    dockerfile = (REPO / "docker" / "Dockerfile").read_text()
    assert re.search(r"^ARG AIRFLOW_VERSION=3\.3\.\d+$", dockerfile, re.M)
    assert "FROM apache/airflow:${AIRFLOW_VERSION}" in dockerfile
    assert '"/opt/secretsync[all]"' in dockerfile


def test_every_file_referenced_exists() -> None:
    for source in dockerfile_copies().values():
        assert (REPO / source).exists(), source
    ignore = (REPO / "docker" / "Dockerfile.dockerignore").read_text().splitlines()
    for kept in (line[1:] for line in ignore if line.startswith("!")):
        assert (REPO / kept).exists(), kept
    init = SERVICES["airflow-init"]
    (script,) = init["command"]
    assert dockerfile_copies()[script] == "docker/init.sh"
    for copied in re.findall(r"/opt/secretsync/\S+\.py", (REPO / "docker/init.sh").read_text()):
        assert copied in dockerfile_copies(), copied
    subprocess.run(["bash", "-n", str(REPO / "docker" / "init.sh")], check=True)


def test_volumes_are_declared_and_dags_are_mounted() -> None:
    declared = set(COMPOSE["volumes"])
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source, target = volume.split(":")[:2]
            if source.startswith("."):
                assert (REPO / source).exists(), f"{name}: {source}"
            else:
                assert source in declared, f"{name}: {source}"
            if name in AIRFLOW_SERVICES and target == "/opt/airflow/dags":
                assert source == "./dags"
    for service in AIRFLOW_SERVICES:
        assert "./dags:/opt/airflow/dags" in SERVICES[service]["volumes"]


def connection_ids(config_path: Path) -> set[str]:
    """Every Airflow connection id the pipeline file's stores use (defaults resolved)."""
    config = load_config(config_path)
    stores = [config.merge_store.store] if config.merge_store else []
    stores += [source.store for source in config.sources.values()]
    stores += [t.destination for t in config.targets.values() if t.destination is not None]
    return {store.connection_id for store in stores}


def test_the_example_configs_connections_are_set_for_every_airflow_service() -> None:
    ids = connection_ids(EXAMPLE)
    assert ids == {"vault_default", "aws_default", "github_default", "kubernetes_default"}
    for service in AIRFLOW_SERVICES:
        env = env_of(service)
        for conn_id in ids:
            assert f"AIRFLOW_CONN_{conn_id.upper()}" in env, (service, conn_id)


def compose_connections(servers: LocalServers) -> dict[str, str]:
    """The compose connection strings, moved from the compose services to the local servers."""
    env = env_of("airflow-worker")
    vault = compose_default(env["AIRFLOW_CONN_VAULT_DEFAULT"])
    aws = compose_default(env["AIRFLOW_CONN_AWS_DEFAULT"])
    vault_at = f"@openbao:{container_port('openbao')}?"
    moto_at = f"http%3A%2F%2Fmoto%3A{container_port('moto')}&"
    assert vault_at in vault
    assert moto_at in aws
    assert f":{VAULT_TOKEN}@" in vault  # the compose dev token is the local servers' token
    moved = {
        "AIRFLOW_CONN_VAULT_DEFAULT": vault.replace(vault_at, f"@127.0.0.1:{servers.vault.port}?"),
        "AIRFLOW_CONN_AWS_DEFAULT": aws.replace(
            moto_at, f"http%3A%2F%2F127.0.0.1%3A{servers.aws.port}&"
        ),
    }
    for service, kind in API_SERVERS.items():
        name = f"AIRFLOW_CONN_{kind.upper()}_DEFAULT"
        uri = compose_default(env[name])
        at = f"@http%3A%2F%2F{service}%3A{container_port(service)}"
        assert uri.endswith(at), name
        assert f":{API_TOKEN}@" in uri  # the token the compose API servers start with
        local = getattr(servers, kind)
        moved[name] = uri.replace(at, f"@http%3A%2F%2F127.0.0.1%3A{local.port}")
    return moved


@pytest.mark.parametrize("service", API_SERVERS)
def test_api_servers_run_the_devtools_modules_from_the_image(service: str) -> None:
    definition = SERVICES[service]
    assert definition["build"] == SERVICES["airflow-init"]["build"]
    module = definition["entrypoint"][2]
    assert module == f"devtools.apiservers.{API_SERVERS[service]}"
    assert "--port" in definition["entrypoint"]
    port = definition["entrypoint"][definition["entrypoint"].index("--port") + 1]
    assert int(port) == container_port(service)
    for path in ("__init__.py", "base.py", f"{API_SERVERS[service]}.py"):
        assert f"/opt/secretsync/devtools/apiservers/{path}" in dockerfile_copies(), path
    for airflow_service in AIRFLOW_SERVICES:
        assert service in SERVICES["airflow-init"]["depends_on"]
        assert f"AIRFLOW_CONN_{API_SERVERS[service].upper()}_DEFAULT" in env_of(airflow_service)


@pytest.fixture(scope="module")
def fresh_servers() -> Iterator[LocalServers]:
    """Empty OpenBao and moto: the example's destinations are fixed paths other tests may fill."""
    with isolated_servers() as running:
        yield running


def test_compose_connections_seed_and_sync_the_example(
    fresh_servers: LocalServers, monkeypatch, capsys
) -> None:
    """What the init service and the workers do, with the exact compose connection strings."""
    for key, value in compose_connections(fresh_servers).items():
        monkeypatch.setenv(key, value)
    spec = importlib.util.spec_from_file_location("seed_compose", REPO / "docker/seed_compose.py")
    seed_compose = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(seed_compose)

    assert seed_compose.main() == 0
    vault = hvac.Client(url=fresh_servers.vault.url, token=fresh_servers.vault.token)
    platform = vault.secrets.kv.v2.read_secret_version(
        mount_point="secret", path="sources/platform/app/db", raise_on_deleted_version=True
    )
    assert platform["data"]["data"]["host"] == "db.internal"
    aws = boto3.client("secretsmanager", endpoint_url=fresh_servers.aws.url, region_name=AWS_REGION)
    legacy = aws.get_secret_value(SecretId="legacy/smtp")
    assert legacy["SecretString"] == "plain-text-smtp-password"
    capsys.readouterr()

    args = ["pipeline", "--config", str(EXAMPLE), "--dry-run", "--output", "json"]
    assert secretsync(args) in (0, 1)
    report = json.loads(capsys.readouterr().out)
    assert {t["target"]: (t["status"], t["summary"]["added"]) for t in report["targets"]} == {
        "Staging": ("success", 3),  # read the Vault and AWS sources, listed the AWS destination
        "Production": ("success", 3),  # listed the Vault destination
        "Ci": ("success", 3),  # read the (empty) state record, listed the repository's secrets
        "Cluster": ("success", 3),  # listed the namespace's Secrets
    }


@pytest.mark.parametrize("service", ["openbao", "moto", *API_SERVERS])
def test_local_only_servers_publish_on_loopback(service: str) -> None:
    (mapping,) = SERVICES[service]["ports"]
    assert mapping.startswith("127.0.0.1:")
