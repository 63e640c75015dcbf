"""HashiCorp Vault / OpenBao KV version 2 store.

Values are JSON objects (dicts). A non-dict value is stored as ``{"value": <str>}`` (strings as
is, other JSON values as their JSON text) and marked ``secretsync-value=string|json`` in the
secret's ``custom_metadata``, so reading it back gives the original value (a Vault merge store
is as faithful as S3); ``bytes`` cannot be stored and raise a :class:`StoreError` naming the
path. Ownership lives in ``custom_metadata`` too (``managed-by=airflow-secretsync``,
``secretsync-target=<target>``); writes are check-and-set against the version that was read.
"""

from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from hvac import utils as hvac_utils
from hvac.exceptions import (
    InvalidPath,
    InvalidRequest,
)

from airflow_secretsync.errors import ConflictError, StoreError
from airflow_secretsync.stores.base import (
    MANAGED_BY_KEY,
    MANAGED_BY_VALUE,
    TARGET_KEY,
    SecretStore,
    SecretValue,
    SecretWrite,
    StoredSecret,
    json_normalized,
)
from airflow_secretsync.stores.server_errors import vault_reason

if TYPE_CHECKING:
    from airflow_secretsync.stores.connections import VaultConnection

log = logging.getLogger(__name__)

#: Folders below the store path that are listed at most (a guard against runaway trees).
MAX_DEPTH = 32
#: Concurrent requests per store (KV v2 has no batch read).
DEFAULT_WORKERS = 8
#: custom_metadata key marking a non-dict value stored as ``{"value": <text>}``.
VALUE_KIND_KEY = "secretsync-value"
WRAPPED = "value"


def wrap(value: SecretValue) -> tuple[dict, str | None]:
    """The KV data for a stored-form value, and its ``secretsync-value`` kind (None: a dict)."""
    if isinstance(value, dict):
        return value, None
    if isinstance(value, str):
        return {WRAPPED: value}, "string"
    return {WRAPPED: json.dumps(value)}, "json"


def unwrap(data: dict, kind: str | None) -> SecretValue:
    """The value :func:`wrap` stored; the data as is unless it still has the wrapped shape."""
    text = data.get(WRAPPED)
    if kind not in ("string", "json") or set(data) != {WRAPPED} or not isinstance(text, str):
        return data
    if kind == "string":
        return text
    try:
        return json.loads(text)
    except ValueError:
        return data


def vault_failure(
    exc: BaseException, location: str, conn: VaultConnection, path: str | None = None
) -> StoreError:
    """A value-free :class:`StoreError` for a failed Vault request."""
    what = f"{location} '{path}'" if path else location
    reason = vault_reason(exc)
    return StoreError(f"{what} (connection '{conn.conn_id}' at {conn.url}): {reason}")


def check_segments(path: str, what: str) -> None:
    """Raise :class:`StoreError` if ``path`` has an empty, ``.``, ``..`` or absolute segment."""
    if path.startswith("/") or any(s in ("", ".", "..") for s in path.split("/")):
        raise StoreError(f"{what}: invalid path '{path}' (empty, '.', '..' or absolute segment)")


class VaultStore(SecretStore):
    """Every KV v2 secret under ``path`` on ``mount``, recursively, keyed by relative path."""

    def __init__(
        self,
        connection: VaultConnection,
        *,
        mount: str,
        path: str = "",
        workers: int = DEFAULT_WORKERS,
    ) -> None:
        self.connection = connection
        self.mount = mount.strip("/")
        self.path = path.rstrip("/")
        self.description = f"vault://{self.mount}/{self.path}".rstrip("/")
        if self.path:
            check_segments(self.path, self.description)
        self.workers = max(1, workers)
        self._kv = connection.client.secrets.kv.v2
        # Latest versions of deleted / destroyed secrets, found by the last listing.
        self._deleted_versions: dict[str, int] = {}

    # -- reading -----------------------------------------------------------------------------

    def list_secrets(self) -> dict[str, StoredSecret]:
        self.connection.require_kv2(self.mount)
        self._deleted_versions.clear()
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            leaves = self._walk(pool)
            secrets = [s for s in pool.map(self._read, leaves) if s is not None]
        log.info("%s: %d secrets", self.description, len(secrets))
        return {s.path: s for s in secrets}

    def _walk(self, pool: ThreadPoolExecutor) -> list[str]:
        """Breadth-first listing, one level at a time (each level listed concurrently)."""
        leaves: list[str] = []
        level = [""]
        for depth in range(MAX_DEPTH + 1):
            folders: list[str] = []
            for folder, keys in zip(level, pool.map(self._list, level), strict=True):
                for key in keys:
                    check_segments(key.rstrip("/"), f"{self.description} '{folder}'")
                    (folders if key.endswith("/") else leaves).append(folder + key)
            if not folders:
                return leaves
            if depth == MAX_DEPTH:
                break
            level = folders
        raise StoreError(f"{self.description}: folders nested deeper than {MAX_DEPTH} levels")

    def _list(self, folder: str) -> list[str]:
        try:
            response = self._kv.list_secrets(path=self._full(folder), mount_point=self.mount)
        except InvalidPath:
            return []
        except Exception as exc:
            raise vault_failure(exc, self.description, self.connection, folder or None) from None
        return list(response["data"]["keys"])

    def _read(self, relpath: str) -> StoredSecret | None:
        try:
            response = self._kv.read_secret_version(
                path=self._full(relpath), mount_point=self.mount, raise_on_deleted_version=True
            )
        except InvalidPath as exc:  # gone since the listing, or latest version deleted/destroyed
            response = exc.json if isinstance(exc.json, dict) else {}
        except Exception as exc:
            raise vault_failure(exc, self.description, self.connection, relpath) from None
        data = response.get("data") or {}
        metadata = data.get("metadata") or {}
        if data.get("data") is None:  # not current; a re-create must check-and-set on it
            if metadata.get("version"):
                self._deleted_versions[relpath] = int(metadata["version"])
            return None
        custom = metadata.get("custom_metadata") or {}
        return StoredSecret(
            path=relpath,
            value=unwrap(data["data"], custom.get(VALUE_KIND_KEY)),
            managed=custom.get(MANAGED_BY_KEY) == MANAGED_BY_VALUE,
            version=int(metadata["version"]),
        )

    # -- writing -----------------------------------------------------------------------------

    def to_stored(self, value: SecretValue, *, path: str | None = None) -> SecretValue:
        where = f"{self.description} '{path}'" if path else self.description
        if isinstance(value, bytes):
            raise StoreError(
                f"{where}: a binary value cannot be stored in Vault KV v2 (JSON objects only)"
            )
        if isinstance(value, str):
            return value
        return json_normalized(value, where)

    def write(self, change: SecretWrite, *, owner: str | None = None) -> None:
        check_segments(change.path, self.description)
        data, kind = wrap(self.to_stored(change.value, path=change.path))
        full = self._full(change.path)
        if change.current is not None:
            cas = change.current.version
        else:
            cas = self._deleted_versions.get(change.path, 0)
        try:
            self._kv.create_or_update_secret(
                path=full, secret=data, cas=cas, mount_point=self.mount
            )
        except InvalidRequest as exc:
            if "check-and-set" in " ".join(exc.errors or []):
                raise ConflictError(
                    f"{self.description} '{change.path}': changed since it was read "
                    f"(expected version {cas}); not overwritten"
                ) from None
            raise vault_failure(exc, self.description, self.connection, change.path) from None
        except Exception as exc:
            raise vault_failure(exc, self.description, self.connection, change.path) from None
        self._mark_managed(change.path, owner, kind)

    def _mark_managed(self, relpath: str, owner: str | None, kind: str | None) -> None:
        """Merge ownership and the value kind into ``custom_metadata`` (a JSON merge PATCH:
        the user's other keys stay, ``None`` removes a key)."""
        custom = {MANAGED_BY_KEY: MANAGED_BY_VALUE, VALUE_KIND_KEY: kind}
        if owner:
            custom[TARGET_KEY] = owner
        url = hvac_utils.format_url(
            "/v1/{mount}/metadata/{path}", mount=self.mount, path=self._full(relpath)
        )
        try:
            self.connection.client.adapter.request(
                "PATCH",
                url,
                headers={"Content-Type": "application/merge-patch+json"},
                json={"custom_metadata": custom},
            )
        except Exception as exc:
            raise vault_failure(exc, self.description, self.connection, relpath) from None

    def delete(self, secret: StoredSecret) -> None:
        try:
            self._kv.delete_metadata_and_all_versions(
                path=self._full(secret.path), mount_point=self.mount
            )
        except InvalidPath:
            return
        except Exception as exc:
            raise vault_failure(exc, self.description, self.connection, secret.path) from None

    def _full(self, relpath: str) -> str:
        return "/".join(p for p in (self.path, relpath) if p)

    def __repr__(self) -> str:
        return f"VaultStore({self.description!r})"
