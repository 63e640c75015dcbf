"""Secret providers: where a reference's key is looked up.

Built in: ``env`` (process environment), ``awssecrets`` (AWS Secrets Manager through the amazon
provider's ``SecretsManagerHook``) and ``vault`` (Vault / OpenBao KV v2 through ``VaultHook``).
Others plug in through the ``airflow_secretsync.providers`` entry-point group.

Providers return the secret as text (a JSON object as JSON text) or ``None`` when it does not
exist; the resolver applies a reference's ``#/key`` path. They never log or raise values.
"""

from __future__ import annotations

import json
import os
import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar

from airflow_secretsync.errors import SecretReferenceError
from airflow_secretsync.stores.connections import aws_client, vault_connection

DEFAULT_AWS_CONNECTION = "aws_default"
DEFAULT_VAULT_CONNECTION = "vault_default"
# AWS says "marked for deletion", moto "marked deleted".
_PENDING_DELETION = re.compile(r"marked (for )?delet")


class SecretsProvider(ABC):
    """A source of secrets, addressed as ``ref+<provider_name>://KEY``.

    ``supported_params`` lists the reference query parameters :meth:`get_secret` accepts as
    keyword arguments; the resolver rejects any other before calling it.
    """

    provider_name: ClassVar[str]
    supported_params: ClassVar[frozenset[str]] = frozenset()

    @abstractmethod
    def get_secret(self, key: str, **params: str) -> str | None:
        """The secret stored under ``key`` as text, or ``None`` when there is none."""


class EnvSecretsProvider(SecretsProvider):
    """Environment variables of the current process: ``ref+env://DB_PASSWORD``."""

    provider_name = "env"

    def get_secret(self, key: str, **params: str) -> str | None:
        return os.environ.get(key)


class _ClientCache:
    """Thread-safe memo of clients per connection id (and options), built on first use.

    The connection is read again at each use: when its definition changed (a rotated token, a
    new endpoint), the client is rebuilt. Secret values are cached in front of the providers,
    so this happens on cache misses only.
    """

    def __init__(self, build: Callable[..., Any]) -> None:
        self._build = build
        self._clients: dict[tuple, tuple[str | None, Any]] = {}
        self._lock = threading.Lock()

    def get(self, connection_id: str, *options: Any) -> Any:
        key = (connection_id, *options)
        definition = _connection_definition(connection_id)
        with self._lock:
            known = self._clients.get(key)
            if known is None or known[0] != definition:
                self._clients[key] = (definition, self._build(connection_id, *options))
            return self._clients[key][1]


def _connection_definition(connection_id: str) -> str | None:
    """The Airflow connection as a URI (kept in memory only), ``None`` if it is not defined."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return BaseHook.get_connection(connection_id).get_uri()
    except AirflowNotFoundException:
        return None


class AwsSecretsProvider(SecretsProvider):
    """AWS Secrets Manager: ``ref+awssecrets://prod/db?region=eu-west-1#/password``.

    Parameters: ``connection_id`` (an Airflow AWS connection), ``region``, and ``version_id``
    (alias ``version``) or ``version_stage``. A binary secret must be UTF-8 text. A secret that
    does not exist or is scheduled for deletion counts as missing.
    """

    provider_name = "awssecrets"
    supported_params = frozenset(
        {"connection_id", "region", "version", "version_id", "version_stage"}
    )

    def __init__(self, connection_id: str = DEFAULT_AWS_CONNECTION, region: str | None = None):
        self.connection_id = connection_id
        self.region = region
        self._clients = _ClientCache(
            lambda conn_id, region: aws_client("secretsmanager", conn_id, region=region)
        )

    def client(self, connection_id: str | None = None, region: str | None = None) -> Any:
        """The boto3 Secrets Manager client for a connection and region (reused)."""
        return self._clients.get(connection_id or self.connection_id, region or self.region)

    def get_secret(self, key: str, **params: str) -> str | None:
        client = self.client(params.get("connection_id"), params.get("region"))
        from botocore.exceptions import ClientError

        request = {"SecretId": key}
        if version_id := params.get("version_id", params.get("version")):
            request["VersionId"] = version_id
        if stage := params.get("version_stage"):
            request["VersionStage"] = stage
        try:
            response = client.get_secret_value(**request)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code, message = error.get("Code"), error.get("Message", "")
            if code == "ResourceNotFoundException" or (
                code == "InvalidRequestException" and _PENDING_DELETION.search(message)
            ):
                return None
            raise
        if "SecretString" in response:
            return response["SecretString"]
        try:
            return response["SecretBinary"].decode()
        except UnicodeDecodeError:
            raise SecretReferenceError(
                f"AWS secret {key!r} is binary, not UTF-8 text; it cannot be used as a string"
            ) from None


class VaultSecretsProvider(SecretsProvider):
    """Vault / OpenBao KV v2: ``ref+vault://MOUNT/PATH#/key``, e.g. ``ref+vault://secret/ci#/token``.

    The first path segment is the KV v2 mount. The value is the secret's data as a JSON object.
    Parameters: ``connection_id`` (an Airflow Vault connection), ``version`` (an integer).
    A missing or deleted secret version counts as missing.
    """

    provider_name = "vault"
    supported_params = frozenset({"connection_id", "version"})

    def __init__(self, connection_id: str = DEFAULT_VAULT_CONNECTION):
        self.connection_id = connection_id
        self._clients = _ClientCache(lambda conn_id: vault_connection(conn_id).client)

    def client(self, connection_id: str | None = None) -> Any:
        """The authenticated hvac client for a connection (reused)."""
        return self._clients.get(connection_id or self.connection_id)

    def get_secret(self, key: str, **params: str) -> str | None:
        mount, _, path = key.strip("/").partition("/")
        if not path:
            raise SecretReferenceError(f"vault key {key!r} must be MOUNT/PATH, e.g. secret/app/db")
        version = params.get("version")
        if version is not None and not version.isdigit():
            raise SecretReferenceError(f"vault key {key!r}: version must be a positive integer")
        client = self.client(params.get("connection_id"))
        from hvac.exceptions import InvalidPath

        try:
            response = client.secrets.kv.v2.read_secret_version(
                path=path,
                mount_point=mount,
                version=int(version) if version else None,
                raise_on_deleted_version=True,
            )
        except InvalidPath:
            return None
        return json.dumps(response["data"]["data"])


BUILTIN_PROVIDERS: dict[str, type[SecretsProvider]] = {
    cls.provider_name: cls for cls in (EnvSecretsProvider, AwsSecretsProvider, VaultSecretsProvider)
}
