"""A Secret Manager client from an Airflow ``google_cloud_platform`` connection.

The connection is read with ``airflow.sdk.BaseHook`` (no Google provider needed: it would bring
dozens of Google client libraries for one API). Extras, as the Google provider stores them
(with or without the old ``extra__google_cloud_platform__`` prefix): ``key_path`` (a service
account key file), ``keyfile_dict`` (the key JSON, as an object or a string), ``project`` (the
default project); with neither key, Application Default Credentials. For local API servers and
tests: ``api_endpoint`` (a base URL) and ``access_token`` (a static OAuth token).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_secretsync.errors import StoreError

if TYPE_CHECKING:
    from google.cloud.secretmanager import SecretManagerServiceClient

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
_OLD_PREFIX = "extra__google_cloud_platform__"


@dataclass
class GcpConnection:
    """One Secret Manager client (REST transport) and the connection's default project."""

    conn_id: str
    client: SecretManagerServiceClient
    project: str | None

    def close(self) -> None:
        self.client.transport.close()


def _extras(conn_id: str) -> dict[str, Any]:
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        extra = BaseHook.get_connection(conn_id).extra_dejson
    except AirflowNotFoundException:
        raise StoreError(f"GCP connection '{conn_id}' is not defined") from None
    return {key.removeprefix(_OLD_PREFIX): value for key, value in extra.items() if value}


def _credentials(conn_id: str, extra: dict[str, Any]) -> tuple[Any, str | None]:
    """The credentials, and the project Application Default Credentials name (if used)."""
    import google.auth
    from google.auth.exceptions import GoogleAuthError
    from google.oauth2 import credentials, service_account

    where = f"GCP connection '{conn_id}'"
    try:
        if extra.get("access_token"):
            return credentials.Credentials(token=str(extra["access_token"])), None
        if extra.get("keyfile_dict"):
            info = extra["keyfile_dict"]
            info = json.loads(info) if isinstance(info, str) else info
            return service_account.Credentials.from_service_account_info(info, scopes=SCOPES), None
        if extra.get("key_path"):
            path = str(extra["key_path"])
            return service_account.Credentials.from_service_account_file(path, scopes=SCOPES), None
        return google.auth.default(scopes=SCOPES)
    except OSError as exc:
        raise StoreError(f"{where}: cannot read key_path ({type(exc).__name__})") from None
    except (ValueError, TypeError, KeyError, AttributeError) as exc:  # never the key's text
        kind = type(exc).__name__
        raise StoreError(f"{where}: the service account key is invalid ({kind})") from None
    except GoogleAuthError as exc:
        raise StoreError(
            f"{where}: no credentials (no key_path/keyfile_dict extra and no Application "
            f"Default Credentials: {type(exc).__name__})"
        ) from None


def gcp_connection(conn_id: str, location: str | None) -> GcpConnection:
    """A client for ``conn_id``: the global endpoint, or the regional one of ``location``."""
    from google.cloud.secretmanager import SecretManagerServiceClient

    extra = _extras(conn_id)
    endpoint = extra.get("api_endpoint")
    if not endpoint and location:
        endpoint = f"https://secretmanager.{location}.rep.googleapis.com"
    credentials, adc_project = _credentials(conn_id, extra)
    client = SecretManagerServiceClient(
        credentials=credentials,
        transport="rest",
        client_options={"api_endpoint": endpoint} if endpoint else None,
    )
    project = extra.get("project") or adc_project
    return GcpConnection(conn_id=conn_id, client=client, project=project)
