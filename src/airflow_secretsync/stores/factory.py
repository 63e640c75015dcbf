"""Builds the stores of one pipeline from its config, sharing one client per connection.

Store modules are imported only after their client was built: a missing provider extra is
reported by :func:`~airflow_secretsync.errors.require_extra` before ``hvac`` or ``botocore``
are imported.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from airflow_secretsync.errors import ConfigError, StoreError

if TYPE_CHECKING:
    from airflow_secretsync.config.model import (
        AwsDestination,
        PipelineConfig,
        TargetConfig,
        VaultLocation,
    )
    from airflow_secretsync.stores.base import DestinationStore, MergeStore, SourceStore
    from airflow_secretsync.stores.connections import VaultConnection
    from airflow_secretsync.stores.vault import VaultStore

#: Folder of the merge store's state records: target names cannot start with '.'.
STATE_FOLDER = ".state"
_AwsKey = tuple[str, str, str | None, str | None]  # service, connection id, region, role ARN


class StoreFactory:
    """Sources, destinations and merge stores of ``config``.

    One authenticated client is created per Vault connection id and per AWS (service,
    connection id, region, role ARN), lazily, and reused for the whole run; thread-safe.
    Connection ids left unset fall back to ``config.connections``. Call :meth:`close` (or use
    it as a context manager) when done.
    """

    def __init__(self, config: PipelineConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._vault: dict[str, VaultConnection] = {}
        self._aws: dict[_AwsKey, Any] = {}
        self._accounts: dict[_AwsKey, str] = {}

    # -- stores ------------------------------------------------------------------------------

    def source(self, name: str) -> SourceStore:
        """The store of source ``name`` (a Vault path or an AWS prefix)."""
        spec = self.config.sources.get(name)
        if spec is None:
            raise ConfigError(f"unknown source '{name}'")
        if spec.vault is not None:
            return self._vault_store(spec.vault, spec.vault.path)
        loc = spec.aws
        conn_id = loc.connection_id or self.config.connections.aws
        client = self._aws_client("secretsmanager", conn_id, loc.region, loc.role_arn)
        from airflow_secretsync.stores.aws import AwsSecretsStore

        store = AwsSecretsStore(client, prefix=loc.prefix)
        self._check_account(store, conn_id, loc.region, loc.role_arn, loc.account_id)
        return store

    def destination(self, target_name: str) -> DestinationStore | None:
        """The destination of ``target_name``, or None for a merge-only target."""
        spec = self._target(target_name)
        if spec.vault is not None:
            return self._vault_store(spec.vault, spec.vault.path)
        if spec.aws is not None:
            return self._aws_destination(spec.aws)
        return None

    def merge_store(self, target_name: str) -> MergeStore:
        """Where ``desired(target_name)`` is kept: ``<path>/<target>`` on the Vault mount, or
        the S3 object ``<prefix>targets/<target>.json``."""
        spec = self._target(target_name)
        merge = self.config.merge_store
        if merge is None:
            raise ConfigError("merge_store is not configured (required when merge is enabled)")
        if merge.vault is not None:
            base = merge.vault.path.strip("/")
            path = "/".join(p for p in (base, target_name) if p)
            state = "/".join(p for p in (base, STATE_FOLDER, target_name) if p)
            return self._vault_store(merge.vault, path, state)
        s3 = merge.s3
        conn_id = s3.connection_id or self.config.connections.aws
        client = self._aws_client("s3", conn_id, s3.region, None)
        from airflow_secretsync.stores.s3 import S3MergeStore

        return S3MergeStore(
            client,
            bucket=s3.bucket,
            prefix=s3.prefix,
            target=target_name,
            kms_key_id=s3.kms_key_id,
            inherits=spec.inherits,
            imports=spec.imports,
        )

    def _target(self, name: str) -> TargetConfig:
        spec = self.config.targets.get(name)
        if spec is None:
            raise ConfigError(f"unknown target '{name}'")
        return spec

    def _vault_store(
        self, loc: VaultLocation, path: str, state_path: str | None = None
    ) -> VaultStore:
        connection = self._vault_connection(loc.connection_id or self.config.connections.vault)
        from airflow_secretsync.stores.vault import VaultStore

        return VaultStore(connection, mount=loc.mount, path=path, state_path=state_path)

    def _aws_destination(self, dest: AwsDestination) -> DestinationStore:
        conn_id = dest.connection_id or self.config.connections.aws
        client = self._aws_client("secretsmanager", conn_id, dest.region, dest.role_arn)
        from airflow_secretsync.stores.aws import AwsSecretsStore

        store = AwsSecretsStore(
            client,
            prefix=dest.prefix,
            kms_key_id=dest.kms_key_id,
            tags=dest.tags,
            recovery_window_days=dest.recovery_window_days,
            force_delete=dest.force_delete,
        )
        self._check_account(store, conn_id, dest.region, dest.role_arn, dest.account_id)
        return store

    def _check_account(
        self,
        store: SourceStore,
        conn_id: str,
        region: str | None,
        role_arn: str | None,
        expected: str | None,
    ) -> None:
        """The block's ``account_id``, when set, is the account the credentials reach."""
        if not expected:
            return
        actual = self._account_id(conn_id, region, role_arn)
        if actual != expected:
            raise StoreError(
                f"{store.description}: connection '{conn_id}' reaches AWS account {actual}, "
                f"but the config expects account_id {expected}"
            )

    # -- shared clients ----------------------------------------------------------------------

    def _vault_connection(self, conn_id: str) -> VaultConnection:
        from airflow_secretsync.stores.connections import vault_connection

        with self._lock:
            if conn_id not in self._vault:
                self._vault[conn_id] = vault_connection(conn_id)
            return self._vault[conn_id]

    def _aws_client(
        self, service: str, conn_id: str, region: str | None, role_arn: str | None
    ) -> Any:
        from airflow_secretsync.stores.connections import aws_client

        key = (service, conn_id, region, role_arn)
        with self._lock:
            if key not in self._aws:
                self._aws[key] = aws_client(service, conn_id, region=region, role_arn=role_arn)
            return self._aws[key]

    def _account_id(self, conn_id: str, region: str | None, role_arn: str | None) -> str:
        """The AWS account the credentials belong to (STS GetCallerIdentity, once per key)."""
        from botocore.exceptions import BotoCoreError, ClientError

        from airflow_secretsync.stores.aws import aws_failure

        key = ("sts", conn_id, region, role_arn)
        if key not in self._accounts:
            try:
                identity = self._aws_client(*key).get_caller_identity()
            except (ClientError, BotoCoreError) as exc:
                raise aws_failure(
                    exc, f"AWS connection '{conn_id}'", "GetCallerIdentity", None
                ) from None
            self._accounts[key] = identity["Account"]
        return self._accounts[key]

    def close(self) -> None:
        """Close every client created so far."""
        with self._lock:
            for connection in self._vault.values():
                connection.close()
            for client in self._aws.values():
                client.close()
            self._vault.clear()
            self._aws.clear()

    def __enter__(self) -> StoreFactory:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
