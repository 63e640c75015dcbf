"""The S3 merge store: ``desired(target)`` as one JSON object, plus a value-free manifest.

``<prefix>targets/<target>.json`` holds ``{"format": 1, "target": ..., "merged_at": ...,
"secrets": {path: value}, "binary": {path: base64}, "owners": {path: owner}}`` and is written
with one conditional PUT (readers see the old or the new merge, never a mix; a concurrent
writer makes it a :class:`ConflictError`, re-read and retried by the engine). ``owners``
records each entry's owner (``<dag_id>/<target>``, see :mod:`.ownership`) in the same PUT as
the value; an object written before owners were recorded has only legacy entries.
``<prefix>state/<target>.json`` is the target's state record (see :class:`.MergeStore`).
``<prefix>manifest.json`` lists every target's object,
secret count, inherits, imports and merge time; it is updated with conditional writes
(``If-Match``), so targets merged in parallel never lose each other's entries. Objects are
encrypted with SSE-KMS when ``kms_key_id`` is set, SSE-S3 (AES256) otherwise.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from airflow_secretsync.errors import ConflictError, StoreError
from airflow_secretsync.stores.aws.store import aws_failure
from airflow_secretsync.stores.base import (
    Deadline,
    MergeStore,
    SecretValue,
    SecretWrite,
    StoredSecret,
    json_normalized,
)
from airflow_secretsync.stores.connections import aws_client
from airflow_secretsync.stores.ownership import NO_OWNER
from airflow_secretsync.stores.s3 import KIND, S3Location

if TYPE_CHECKING:
    from botocore.client import BaseClient

    from airflow_secretsync.stores.registry import OpenContext

log = logging.getLogger(__name__)

OBJECT_FORMAT = 1
MANIFEST_NAME = "manifest.json"
TARGETS_FOLDER = "targets/"  # target names hold no '/', so no target object is the manifest
STATE_FOLDER = "state/"  # per-target state records of write-only destinations (names, versions)
MANIFEST_ATTEMPTS = 8
_PRECONDITION_CODES = ("PreconditionFailed", "ConditionalRequestConflict", "412", "409")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class S3MergeStore(MergeStore):
    """One target's merged secrets in ``s3://bucket/<prefix>targets/<target>.json``.

    ``inherits`` and ``imports`` are only recorded in the manifest. The object's ETag is the
    version of every entry: changes are applied with ``If-Match`` on the ETag that was listed.
    """

    def __init__(
        self,
        client: BaseClient,
        *,
        bucket: str,
        prefix: str,
        target: str,
        kms_key_id: str | None = None,
        inherits: Sequence[str] = (),
        imports: Sequence[str] = (),
    ) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix
        self.target = target
        self.kms_key_id = kms_key_id
        self.inherits = list(inherits)
        self.imports = list(imports)
        self.key = f"{prefix}{TARGETS_FOLDER}{target}.json"  # never the manifest's key
        self.manifest_key = f"{prefix}{MANIFEST_NAME}"
        self.state_key = f"{prefix}{STATE_FOLDER}{target}.json"
        self.description = f"s3://{bucket}/{self.key}"
        self._lock = threading.Lock()
        #: The ETag the last listing saw (None: no object), if listed: changes diffed against
        #: that listing are applied only to that version.
        self._listed: tuple[str | None] | None = None

    # -- reading -----------------------------------------------------------------------------

    def list_secrets(self) -> dict[str, StoredSecret]:
        secrets, owners, etag = self._read_object()
        self._listed = (etag,)
        return {
            path: StoredSecret(
                path=path, value=value, owner=owners.get(path, NO_OWNER), version=etag
            )
            for path, value in secrets.items()
        }

    def _read_object(self) -> tuple[dict[str, SecretValue], dict[str, str], str | None]:
        """``(secrets, owners, etag)`` of the target object (empty, None when absent)."""
        document, etag = self._get_json(self.key)
        if document is None:
            return {}, {}, None
        try:
            secrets = dict(document["secrets"])
            secrets.update(
                {path: base64.b64decode(text) for path, text in document["binary"].items()}
            )
            owners = dict(document.get("owners") or {})
        except (KeyError, TypeError, ValueError, AttributeError, binascii.Error):
            raise StoreError(f"{self.description}: not a merge store object") from None
        return secrets, owners, etag

    def _get_json(self, key: str) -> tuple[Any, str | None]:
        """``(document, etag)``, or ``(None, None)`` when the object does not exist."""
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
            body = response["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None, None
            raise aws_failure(exc, f"s3://{self.bucket}/{key}", "GetObject", None) from None
        except BotoCoreError as exc:
            raise aws_failure(exc, f"s3://{self.bucket}/{key}", "GetObject", None) from None
        try:
            return json.loads(body), response.get("ETag")
        except ValueError:
            raise StoreError(f"s3://{self.bucket}/{key}: not valid JSON") from None

    # -- writing -----------------------------------------------------------------------------

    def to_stored(self, value: SecretValue, *, path: str | None = None) -> SecretValue:
        if isinstance(value, bytes):
            return value
        return json_normalized(value, f"{self.description} '{path}'" if path else self.description)

    def apply(
        self,
        writes: Sequence[SecretWrite],
        deletes: Sequence[StoredSecret] = (),
        *,
        owner: str | None = None,
        parallel: int = 8,
        done: set[str] | None = None,
        deadline: Deadline | None = None,
    ) -> None:
        """All writes and deletes in one conditional PUT of the object, then the manifest.

        A :class:`ConflictError` if the object changed since this store last listed it.
        """
        if not writes and not deletes:
            return
        if deadline is not None:
            deadline.check(self.description)
        with self._lock:
            secrets, owners, etag = self._read_object()
            if self._listed is not None and self._listed != (etag,):
                raise self._conflict()
            for change in writes:
                secrets[change.path] = change.value
                owners[change.path] = owner or NO_OWNER
            for secret in deletes:
                secrets.pop(secret.path, None)
                owners.pop(secret.path, None)
            condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
            if not self._put_secrets(secrets, owners, **condition):
                raise self._conflict()
            self._listed = None
        if done is not None:
            done.update(c.path for c in [*writes, *deletes])
        self._update_manifest(len(secrets))
        log.info("%s: wrote %d secrets", self.description, len(secrets))

    def read_state(self) -> tuple[dict[str, Any] | None, Any]:
        return self._get_json(self.state_key)

    def write_state(self, state: dict[str, Any], version: Any) -> None:
        condition = {"IfMatch": version} if version else {"IfNoneMatch": "*"}
        if not self._put(self.state_key, state, **condition):
            raise ConflictError(f"s3://{self.bucket}/{self.state_key}: changed since it was read")

    def _conflict(self) -> ConflictError:
        return ConflictError(f"{self.description}: changed by another run since it was read")

    def _put_secrets(
        self, secrets: Mapping[str, SecretValue], owners: Mapping[str, str], **conditions: str
    ) -> bool:
        plain, binary = {}, {}
        for path, value in secrets.items():
            if isinstance(value, bytes):
                binary[path] = base64.b64encode(value).decode("ascii")
            else:
                plain[path] = self.to_stored(value, path=path)
        document = {
            "format": OBJECT_FORMAT,
            "target": self.target,
            "merged_at": _now(),
            "secrets": dict(sorted(plain.items())),
            "binary": dict(sorted(binary.items())),
            "owners": dict(sorted(owners.items())),
        }
        return self._put(self.key, document, **conditions)

    def _put(self, key: str, document: Any, **conditions: str) -> bool:
        """PUT ``document`` as JSON, encrypted; False when a condition (If-Match...) failed."""
        encryption: dict[str, str] = {"ServerSideEncryption": "AES256"}
        if self.kms_key_id:
            encryption = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.kms_key_id}
        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=json.dumps(document, ensure_ascii=False, indent=1).encode(),
                ContentType="application/json",
                **encryption,
                **conditions,
            )
        except ClientError as exc:
            if conditions and exc.response.get("Error", {}).get("Code") in _PRECONDITION_CODES:
                return False
            raise aws_failure(exc, f"s3://{self.bucket}/{key}", "PutObject", None) from None
        except BotoCoreError as exc:
            raise aws_failure(exc, f"s3://{self.bucket}/{key}", "PutObject", None) from None
        return True

    def _update_manifest(self, count: int) -> None:
        """Record this target in the manifest with optimistic concurrency (If-Match)."""
        entry = {
            "object": self.key,
            "secrets": count,
            "inherits": self.inherits,
            "imports": self.imports,
            "merged_at": _now(),
        }
        for _ in range(MANIFEST_ATTEMPTS):
            manifest, etag = self._get_json(self.manifest_key)
            if not isinstance(manifest, dict) or not isinstance(manifest.get("targets"), dict):
                manifest = {"format": OBJECT_FORMAT, "targets": {}}
            manifest["targets"][self.target] = entry
            manifest["updated_at"] = entry["merged_at"]
            condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
            if self._put(self.manifest_key, manifest, **condition):
                return
        raise StoreError(
            f"s3://{self.bucket}/{self.manifest_key}: changed concurrently "
            f"{MANIFEST_ATTEMPTS} times in a row; giving up"
        )

    def __repr__(self) -> str:
        return f"S3MergeStore({self.description!r})"


def open_store(block: S3Location, context: OpenContext) -> S3MergeStore:
    """The S3 object of target ``context.name`` under ``block``'s prefix."""
    conn_id = block.connection_id or KIND.default_connection_id
    client = context.clients.get(
        ("s3", conn_id, block.region, None),
        lambda: aws_client("s3", conn_id, region=block.region, role_arn=None),
    )
    target = context.config.targets[context.name]
    return S3MergeStore(
        client,
        bucket=block.bucket,
        prefix=block.prefix,
        target=context.name,
        kms_key_id=block.kms_key_id,
        inherits=target.inherits,
        imports=target.imports,
    )
