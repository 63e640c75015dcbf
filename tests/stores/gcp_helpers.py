"""The gcp store against the local Secret Manager server: projects, connections, inspection."""

from __future__ import annotations

import itertools
import json
from typing import Any

from google.cloud import secretmanager
from google.oauth2.credentials import Credentials

from airflow_secretsync.stores.base import StoredSecret
from airflow_secretsync.stores.gcp import KIND, GcpDestination, GcpSource
from airflow_secretsync.stores.registry import Clients, OpenContext
from devtools.apiservers.base import ApiServer
from tests.stores.conftest import pipeline

_projects = itertools.count()
OWNER = "secretsync/Target"


def new_project(server: ApiServer) -> str:
    name = f"proj-{next(_projects)}-{id(server) % 1000}"
    server.control("PUT", f"projects/{name}")
    return name


def raw_client(server: ApiServer) -> secretmanager.SecretManagerServiceClient:
    """A client independent of the store, to seed and inspect the server."""
    return secretmanager.SecretManagerServiceClient(
        credentials=Credentials(token=server.token),
        transport="rest",
        client_options={"api_endpoint": server.url},
    )


def connection(server: ApiServer, **extra: Any) -> dict[str, Any]:
    return {
        "conn_type": "google_cloud_platform",
        "extra": {"api_endpoint": server.url, "access_token": server.token, **extra},
    }


def open_gcp(block: GcpSource, role: str = "destination", clients: Clients | None = None):
    context = OpenContext(
        role=role,  # type: ignore[arg-type]
        name="Target",
        config=pipeline(),
        clients=clients or Clients(),
        owner=OWNER,
    )
    return KIND.open(block, context)


def seed(
    sm: secretmanager.SecretManagerServiceClient,
    parent: str,
    secret_id: str,
    *values: bytes,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
) -> str:
    secret: dict[str, Any] = {"labels": labels or {}, "annotations": annotations or {}}
    if "/locations/" not in parent:
        secret["replication"] = {"automatic": {}}
    name = sm.create_secret(
        request={"parent": parent, "secret_id": secret_id, "secret": secret}
    ).name
    for value in values:
        sm.add_secret_version(request={"parent": name, "payload": {"data": value}})
    return name


def payload(sm: secretmanager.SecretManagerServiceClient, name: str) -> bytes:
    return sm.access_secret_version(name=f"{name}/versions/latest").payload.data


def ids(sm: secretmanager.SecretManagerServiceClient, parent: str) -> list[str]:
    return sorted(s.name.rsplit("/", 1)[1] for s in sm.list_secrets(request={"parent": parent}))


def writes(server: ApiServer) -> list[dict[str, Any]]:
    """API requests that change something, since the last :func:`forget`."""
    return [r for r in server.control("GET", "requests") if r["method"] != "GET"]


def forget(server: ApiServer) -> None:
    server.control("DELETE", "requests")


def dest_block(project: str, **fields: Any) -> GcpDestination:
    return GcpDestination(project=project, connection_id="gcp_test", prefix="out-", **fields)


def values(secrets: dict[str, StoredSecret]) -> dict[str, Any]:
    return {path: s.value for path, s in secrets.items()}


def as_json(data: bytes) -> Any:
    return json.loads(data)
