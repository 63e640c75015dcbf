"""AWS Secrets Manager store: every secret whose name starts with a prefix.

Values: a ``SecretString`` holding a JSON object is read as a dict, any other string is kept
exactly as stored, ``SecretBinary`` is read as ``bytes``. Writes: dict (and other JSON values)
as JSON text, str as is, bytes as ``SecretBinary``. Reads cost one ``ListSecrets`` per 100
secrets and one ``BatchGetSecretValue`` per 20. ``name`` and ``/name`` are the same secret
(see ``docs/stores.md``). Ownership is the tags ``managed-by=airflow-secretsync`` and
``secretsync-owner=<dag_id>/<target>`` (:mod:`.ownership`), given in the ``CreateSecret``
request itself and set before the value on updates.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
)

from airflow_secretsync.errors import ConflictError, StoreError
from airflow_secretsync.stores.aws import (
    KIND,
    READ_QUOTAS,
    WRITE_QUOTAS,
    AwsDestination,
    AwsSourceLocation,
)
from airflow_secretsync.stores.aws.pacing import QuotaPacer
from airflow_secretsync.stores.base import (
    DestinationStore,
    SecretValue,
    SecretWrite,
    StoredSecret,
    json_normalized,
    json_object_or_text,
)
from airflow_secretsync.stores.concurrency import bounded_map
from airflow_secretsync.stores.connections import aws_client
from airflow_secretsync.stores.ownership import owner_from_labels, owner_labels
from airflow_secretsync.stores.server_errors import aws_reason

if TYPE_CHECKING:
    from botocore.client import BaseClient

    from airflow_secretsync.stores.registry import OpenContext

log = logging.getLogger(__name__)

LIST_PAGE_SIZE = 100  # the ListSecrets maximum
BATCH_SIZE = 20  # the BatchGetSecretValue maximum for SecretIdList
DEFAULT_WORKERS = 4
_NOT_FOUND = "ResourceNotFoundException"


def aws_failure(exc: BaseException, location: str, action: str, name: str | None) -> StoreError:
    """A value-free :class:`StoreError` for a failed AWS call."""
    what = f"{location} '{name}'" if name else location
    reason = f"{action}: {aws_reason(exc)}"
    return StoreError(f"{what}: {reason}")


def encode(value: SecretValue) -> dict[str, Any]:
    """``SecretString`` / ``SecretBinary`` arguments for a stored-form value."""
    if isinstance(value, bytes):
        return {"SecretBinary": value}
    if isinstance(value, str):
        return {"SecretString": value}
    return {"SecretString": json.dumps(value, ensure_ascii=False)}


def _tag_map(tags: list[dict[str, str]] | None) -> dict[str, str | None]:
    return {t["Key"]: t.get("Value") for t in tags or []}


def _without_slash(name: str) -> str:
    return name[1:] if name.startswith("/") else name


@dataclass(frozen=True, slots=True)
class AwsSecretRef:
    """Where a listed secret lives: its exact name (maybe the ``/`` spelling), ARN and the
    ``VersionId`` that was read."""

    name: str
    arn: str
    version_id: str | None = None


class _Listed(NamedTuple):
    """What the sync keeps of one ``ListSecrets`` entry."""

    name: str
    arn: str
    owner: str | None


class AwsSecretsStore(DestinationStore):
    """Every Secrets Manager secret whose name starts with ``prefix``, by relative path.

    ``name`` and ``/name`` are one secret: listing accepts either spelling, writing uses
    ``prefix + path`` and replaces the other spelling. Destination settings (``kms_key_id``,
    ``tags``, ``recovery_window_days``, ``force_delete``) apply to writes and deletes.
    """

    supports_rollback = True

    def __init__(
        self,
        client: BaseClient,
        *,
        prefix: str = "",
        kms_key_id: str | None = None,
        tags: Mapping[str, str] | None = None,
        recovery_window_days: int | None = None,
        force_delete: bool = False,
        workers: int = DEFAULT_WORKERS,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.kms_key_id = kms_key_id
        self.tags = dict(tags or {})
        self.recovery_window_days = recovery_window_days
        self.force_delete = force_delete
        self.workers = max(1, workers)
        self.description = f"aws-secretsmanager://{client.meta.region_name}/{prefix}"
        self._base = _without_slash(prefix)

    # -- reading -----------------------------------------------------------------------------

    def list_secrets(self) -> dict[str, StoredSecret]:
        entries = self._list_entries()
        arns = [(entry.arn, rel) for rel, entry in entries.items()]
        batches = [dict(arns[i : i + BATCH_SIZE]) for i in range(0, len(arns), BATCH_SIZE)]
        values: dict[str, tuple[SecretValue, str | None]] = {}
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            for batch_values in bounded_map(pool, self._get_batch, batches, self.workers):
                values.update(batch_values)
        secrets = {
            rel: StoredSecret(
                path=rel,
                value=values[entry.arn][0],
                owner=entry.owner,
                version=AwsSecretRef(entry.name, entry.arn, values[entry.arn][1]),
            )
            for rel, entry in entries.items()
            if entry.arn in values
        }
        log.info("%s: %d secrets", self.description, len(secrets))
        return secrets

    def _list_entries(self) -> dict[str, _Listed]:
        """Current (not pending deletion) secrets under the prefix with their owner, one per
        relative path; when both spellings exist the one named ``prefix + path`` wins. Only
        what the sync needs of each listed entry is kept (not its dates, tags, rotation...)."""
        chosen: dict[str, _Listed] = {}
        for entry in self._paginate_list():
            name = entry["Name"]
            rel = self._relative(name)
            if rel is None or entry.get("DeletedDate"):
                continue
            if rel in chosen and chosen[rel].name == self.prefix + rel:
                continue
            owner = owner_from_labels(_tag_map(entry.get("Tags")))
            chosen[rel] = _Listed(name, entry["ARN"], owner)
        return chosen

    def _paginate_list(self) -> Iterator[dict[str, Any]]:
        kwargs: dict[str, Any] = {"IncludePlannedDeletion": False}
        if self._base:
            kwargs["Filters"] = [{"Key": "name", "Values": [self._base, "/" + self._base]}]
        pages = self.client.get_paginator("list_secrets").paginate(
            **kwargs, PaginationConfig={"PageSize": LIST_PAGE_SIZE}
        )
        try:
            for page in pages:
                yield from page.get("SecretList", [])
        except (ClientError, BotoCoreError) as exc:
            raise aws_failure(exc, self.description, "ListSecrets", None) from None

    def _relative(self, name: str) -> str | None:
        bare = _without_slash(name)
        if not bare.startswith(self._base) or len(bare) == len(self._base):
            return None
        return bare[len(self._base) :]

    def _get_batch(self, arns: Mapping[str, str]) -> dict[str, tuple[SecretValue, str | None]]:
        """Values and version ids by ARN of up to 20 secrets (``arns``: ARN to path)."""
        try:
            response = self.client.batch_get_secret_value(SecretIdList=list(arns))
        except (ClientError, BotoCoreError) as exc:
            raise aws_failure(exc, self.description, "BatchGetSecretValue", None) from None
        for error in response.get("Errors", []):
            # Gone or scheduled for deletion since the listing: no longer current.
            if error.get("ErrorCode") in (_NOT_FOUND, "InvalidRequestException"):
                continue
            path = arns.get(error.get("SecretId", ""), error.get("SecretId"))
            raise StoreError(
                f"{self.description} '{path}': BatchGetSecretValue: {error.get('ErrorCode')}"
            )
        return {
            item["ARN"]: (
                item["SecretBinary"]
                if "SecretBinary" in item
                else json_object_or_text(item.get("SecretString", "")),
                item.get("VersionId"),
            )
            for item in response.get("SecretValues", [])
        }

    # -- writing -----------------------------------------------------------------------------

    def to_stored(self, value: SecretValue, *, path: str | None = None) -> SecretValue:
        if isinstance(value, bytes):
            return value
        if isinstance(value, str):
            return json_object_or_text(value)
        where = f"{self.description} '{path}'" if path else self.description
        normal = json_normalized(value, where)
        # A JSON object is read back as a dict; any other JSON value as its text.
        return normal if isinstance(normal, dict) else json.dumps(normal, ensure_ascii=False)

    def version_id(self, secret: StoredSecret) -> str | None:
        ref = secret.version
        return ref.version_id if isinstance(ref, AwsSecretRef) else None

    def write(self, change: SecretWrite, *, owner: str | None = None) -> str | None:
        name = self.prefix + change.path
        value = change.value
        # Strings and bytes are written exactly as given; other values as JSON text.
        payload = encode(
            value if isinstance(value, str | bytes) else self.to_stored(value, path=change.path)
        )
        if not next(iter(payload.values())):
            raise StoreError(
                f"{self.description} '{change.path}': Secrets Manager cannot store an empty value"
            )
        current = change.current.version if change.current is not None else None
        action = "PutSecretValue"
        try:
            if isinstance(current, AwsSecretRef) and current.name == name:
                action = "TagResource"  # ownership before the value
                self.client.tag_resource(SecretId=current.arn, Tags=self._tags(owner))
                action = "PutSecretValue"
                return self.client.put_secret_value(SecretId=current.arn, **payload)["VersionId"]
            action = "CreateSecret"
            version = self._create(name, payload, owner, change.path)
            if isinstance(current, AwsSecretRef):  # the other spelling is replaced
                action = "DeleteSecret"
                self._delete_arn(current.arn)
            return version
        except (ClientError, BotoCoreError) as exc:
            raise aws_failure(exc, self.description, action, change.path) from None

    def _create(
        self, name: str, payload: dict[str, Any], owner: str | None, path: str
    ) -> str | None:
        """CreateSecret; a name pending deletion is restored, then given the new value.
        Returns the version id written."""
        kwargs = {"Name": name, "Tags": self._tags(owner), **payload}
        if self.kms_key_id:
            kwargs["KmsKeyId"] = self.kms_key_id
        try:
            return self.client.create_secret(**kwargs).get("VersionId")
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code not in ("ResourceExistsException", "InvalidRequestException"):
                raise
            if not self.client.describe_secret(SecretId=name).get("DeletedDate"):
                if code == "ResourceExistsException":
                    raise ConflictError(
                        f"{self.description} '{path}': created by someone else after it was "
                        "read; not overwritten"
                    ) from None
                raise
        self.client.restore_secret(SecretId=name)
        self.client.tag_resource(SecretId=name, Tags=self._tags(owner))
        version = self.client.put_secret_value(SecretId=name, **payload)["VersionId"]
        log.info("%s '%s': restored a secret that was pending deletion", self.description, path)
        return version

    def _tags(self, owner: str | None) -> list[dict[str, str]]:
        tags = {**self.tags, **owner_labels(owner or "")}
        return [{"Key": key, "Value": value} for key, value in tags.items()]

    def delete(self, secret: StoredSecret) -> None:
        """Delete (recovery window unless ``force_delete``), only if its owner is still the
        one that was read."""
        ref = secret.version
        secret_id = ref.arn if isinstance(ref, AwsSecretRef) else self.prefix + secret.path
        action = "DescribeSecret"
        try:
            described = self.client.describe_secret(SecretId=secret_id)
            if described.get("DeletedDate"):
                return
            if owner_from_labels(_tag_map(described.get("Tags"))) != secret.owner:
                raise ConflictError(
                    f"{self.description} '{secret.path}': its owner changed since it was read; "
                    "not deleted"
                )
            action = "DeleteSecret"
            self._delete_arn(secret_id)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == _NOT_FOUND:
                return
            raise aws_failure(exc, self.description, action, secret.path) from None
        except BotoCoreError as exc:
            raise aws_failure(exc, self.description, action, secret.path) from None

    def _delete_arn(self, secret_id: str) -> None:
        if self.force_delete:
            options: dict[str, Any] = {"ForceDeleteWithoutRecovery": True}
        elif self.recovery_window_days:
            options = {"RecoveryWindowInDays": self.recovery_window_days}
        else:
            options = {}  # the AWS default window (30 days)
        try:
            self.client.delete_secret(SecretId=secret_id, **options)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != _NOT_FOUND:
                raise

    # -- rollback ----------------------------------------------------------------------------

    def current_version(self, path: str) -> tuple[str | None, str | None]:
        described = self._describe(path)
        if described is None:
            return None, None
        owner = owner_from_labels(_tag_map(described.get("Tags")))
        if described.get("DeletedDate"):
            return None, owner
        return _stage_version(described, "AWSCURRENT"), owner

    def restore_version(self, path: str, version: str, *, expected: str) -> str:
        """The value of ``version`` put again as a new current version; refused if
        ``expected`` is no longer current."""
        described = self._describe(path)
        if described is None or _stage_version(described, "AWSCURRENT") != expected:
            raise ConflictError(f"{self.description} '{path}': changed since it was read")
        arn = described["ARN"]
        try:
            old = self.client.get_secret_value(SecretId=arn, VersionId=version)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == _NOT_FOUND:
                raise StoreError(
                    f"{self.description} '{path}': version {version} no longer exists"
                ) from None
            raise aws_failure(exc, self.description, "GetSecretValue", path) from None
        except BotoCoreError as exc:
            raise aws_failure(exc, self.description, "GetSecretValue", path) from None
        payload = {k: old[k] for k in ("SecretString", "SecretBinary") if k in old}
        try:
            return self.client.put_secret_value(SecretId=arn, **payload)["VersionId"]
        except (ClientError, BotoCoreError) as exc:
            raise aws_failure(exc, self.description, "PutSecretValue", path) from None

    def delete_version(self, path: str, *, expected: str, owner: str) -> None:
        described = self._describe(path)
        if described is None or described.get("DeletedDate"):
            return
        if _stage_version(described, "AWSCURRENT") != expected:
            raise ConflictError(f"{self.description} '{path}': changed since it was read")
        ref = AwsSecretRef(described["Name"], described["ARN"], expected)
        self.delete(StoredSecret(path, None, owner=owner, version=ref))

    def undelete(self, path: str, version: str, *, owner: str, check_only: bool = False) -> str:
        """RestoreSecret of a secret pending deletion that is still ``owner``'s."""
        described = self._describe(path)
        if described is None or not described.get("DeletedDate"):
            raise ConflictError(
                f"{self.description} '{path}': not pending deletion (deleted for good, or "
                "created again)"
            )
        if owner_from_labels(_tag_map(described.get("Tags"))) != owner:
            raise ConflictError(f"{self.description} '{path}': its owner changed; not restored")
        if check_only:
            return version
        self._call(
            "RestoreSecret", path, lambda: self.client.restore_secret(SecretId=described["ARN"])
        )
        return _stage_version(described, "AWSCURRENT") or version

    def _describe(self, path: str) -> dict[str, Any] | None:
        try:
            return self.client.describe_secret(SecretId=self.prefix + path)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == _NOT_FOUND:
                return None
            raise aws_failure(exc, self.description, "DescribeSecret", path) from None
        except BotoCoreError as exc:
            raise aws_failure(exc, self.description, "DescribeSecret", path) from None

    def _call(self, action: str, path: str, call: Callable[[], object]) -> None:
        try:
            call()
        except (ClientError, BotoCoreError) as exc:
            raise aws_failure(exc, self.description, action, path) from None

    def __repr__(self) -> str:
        return f"AwsSecretsStore({self.description!r})"


def _stage_version(described: Mapping[str, Any], stage: str) -> str | None:
    """The version id holding ``stage`` in a DescribeSecret response."""
    stages = described.get("VersionIdsToStages") or {}
    return next((vid for vid, names in stages.items() if stage in names), None)


def open_store(block: AwsSourceLocation, context: OpenContext) -> AwsSecretsStore:
    """The Secrets Manager store of ``block`` (a source or an :class:`AwsDestination`), after
    checking its ``account_id``, when set, against the credentials."""
    conn_id = block.connection_id or KIND.default_connection_id
    key = _client_key(block)
    settings = context.config.pipeline
    # Every store of the client may read and write at once: reads, then writes, per target.
    pool_size = (DEFAULT_WORKERS + settings.sync.parallel) * settings.stores_in_flight

    def build() -> BaseClient:
        client = aws_client(
            "secretsmanager",
            conn_id,
            region=block.region,
            role_arn=block.role_arn,
            pool_size=pool_size,
        )
        return QuotaPacer({**READ_QUOTAS, **_write_rates(context, key)}).attach(client)

    client = context.clients.get(("secretsmanager", *key), build)
    if isinstance(block, AwsDestination):
        store = AwsSecretsStore(
            client,
            prefix=block.prefix,
            kms_key_id=block.kms_key_id,
            tags=block.tags,
            recovery_window_days=block.recovery_window_days,
            force_delete=block.force_delete,
        )
    else:
        store = AwsSecretsStore(client, prefix=block.prefix)
    if block.account_id:
        actual = context.clients.get(("account", *key), lambda: _account_id(context, *key))
        if actual != block.account_id:
            raise StoreError(
                f"{store.description}: connection '{conn_id}' reaches AWS account {actual}, "
                f"but the config expects account_id {block.account_id}"
            )
    return store


def _write_rates(context: OpenContext, key: tuple[str, str | None, str | None]) -> dict[str, float]:
    """The write rates of the client ``key``: AWS's quotas, each overridden by the lowest
    ``write_rates`` entry of the destinations sharing the client."""
    rates = dict(WRITE_QUOTAS)
    overridden: set[str] = set()
    for spec in context.config.targets.values():
        block = spec.destination
        if isinstance(block, AwsDestination) and _client_key(block) == key:
            for group, rate in block.write_rates.items():
                rates[group] = min(rates[group], rate) if group in overridden else rate
                overridden.add(group)
    return rates


def _client_key(block: AwsSourceLocation) -> tuple[str, str | None, str | None]:
    return (block.connection_id or KIND.default_connection_id, block.region, block.role_arn)


def _account_id(context: OpenContext, conn_id: str, region: str | None, role: str | None) -> str:
    """The AWS account the credentials belong to (STS GetCallerIdentity)."""
    sts = context.clients.get(
        ("sts", conn_id, region, role),
        lambda: aws_client("sts", conn_id, region=region, role_arn=role),
    )
    try:
        return sts.get_caller_identity()["Account"]
    except (ClientError, BotoCoreError) as exc:
        raise aws_failure(exc, f"AWS connection '{conn_id}'", "GetCallerIdentity", None) from None
