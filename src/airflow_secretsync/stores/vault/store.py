"""HashiCorp Vault / OpenBao KV version 2 store.

Values are JSON objects (dicts). A non-dict value is stored as ``{"value": <str>}`` (strings as
is, other JSON values as their JSON text) and marked ``secretsync-value=string|json`` in the
secret's ``custom_metadata``, so reading it back gives the original value (a Vault merge store
is as faithful as S3); ``bytes`` cannot be stored and raise a :class:`StoreError` naming the
path. Ownership lives in ``custom_metadata`` too (``managed-by=airflow-secretsync``,
``secretsync-owner=<dag_id>/<target>``, see :mod:`.ownership`) and is written *before* the
data; data writes are check-and-set against the version that was read, and a delete first
checks that the secret is still the version and owner that were read.
"""

from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hvac import utils as hvac_utils
from hvac.exceptions import InvalidPath, InvalidRequest

from airflow_secretsync.compare import values_equal
from airflow_secretsync.errors import ConflictError, StoreError
from airflow_secretsync.scopes import path_prefix
from airflow_secretsync.stores.base import (
    DEFAULT_READ_CONCURRENCY,
    DestinationStore,
    MergeStore,
    SecretValue,
    SecretWrite,
    StoredSecret,
    json_normalized,
)
from airflow_secretsync.stores.concurrency import bounded_map
from airflow_secretsync.stores.connections import vault_connection, vault_failure
from airflow_secretsync.stores.ownership import (
    LEGACY_TARGET_KEY,
    MANAGED_BY_KEY,
    OWNER_KEY,
    owner_from_labels,
    owner_labels,
)
from airflow_secretsync.stores.vault import KIND, VaultLocation

if TYPE_CHECKING:
    from airflow_secretsync.stores.connections import VaultConnection
    from airflow_secretsync.stores.registry import OpenContext

log = logging.getLogger(__name__)

#: Folders below the store path that are listed at most (a guard against runaway trees).
MAX_DEPTH = 32
#: custom_metadata key marking a non-dict value stored as ``{"value": <text>}``.
VALUE_KIND_KEY = "secretsync-value"
WRAPPED = "value"


@dataclass(frozen=True, slots=True)
class VaultVersion:
    """What a write needs of a listed secret: its version (check-and-set) and value kind."""

    number: int
    kind: str | None = None


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


def check_segments(path: str, what: str) -> None:
    """Raise :class:`StoreError` if ``path`` has an empty, ``.``, ``..`` or absolute segment."""
    if path.startswith("/") or any(s in ("", ".", "..") for s in path.split("/")):
        raise StoreError(f"{what}: invalid path '{path}' (empty, '.', '..' or absolute segment)")


class VaultStore(DestinationStore, MergeStore):
    """Every KV v2 secret under ``path`` on ``mount``, recursively, keyed by relative path.

    As a merge store location, ``state_path`` (outside ``path``) holds the target's state
    record.
    """

    supports_rollback = True

    def __init__(
        self,
        connection: VaultConnection,
        *,
        mount: str,
        path: str = "",
        workers: int = DEFAULT_READ_CONCURRENCY,
        state_path: str | None = None,
    ) -> None:
        self.connection = connection
        self.state_path = state_path
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
        """The mount is checked (once per connection) while the folders are listed; no secret
        is read before it passed."""
        self._deleted_versions.clear()
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            mount_checked = pool.submit(self.connection.require_kv2, self.mount)
            try:
                leaves = self._walk(pool)
            except StoreError:
                mount_checked.result()  # a missing or wrong mount is the clearer error
                raise
            mount_checked.result()
            reads = bounded_map(pool, self._read, leaves, self.workers)
            secrets = [s for s in reads if s is not None]
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
            owner=owner_from_labels(custom),
            version=VaultVersion(int(metadata["version"]), custom.get(VALUE_KIND_KEY)),
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

    def version_id(self, secret: StoredSecret) -> str | None:
        version = secret.version
        return str(version.number) if isinstance(version, VaultVersion) else None

    def write(self, change: SecretWrite, *, owner: str | None = None) -> str:
        """Ownership first, then the data (check-and-set): a crash in between leaves either a
        metadata-only entry (no value: invisible, re-created by the next run) or an owned
        secret holding its previous value, never an unowned value this tool wrote."""
        check_segments(change.path, self.description)
        value = self.to_stored(change.value, path=change.path)
        data, kind = wrap(value)
        labels: dict[str, str | None] = {
            **owner_labels(owner or ""),
            VALUE_KIND_KEY: kind,
            LEGACY_TARGET_KEY: None,
        }
        current = change.current
        if current is None:
            cas = self._deleted_versions.get(change.path, 0)
            self._claim_new(change.path, cas, labels)
        else:
            cas = current.version.number
            if current.owner != owner or current.version.kind != kind:
                self._patch_metadata(change.path, labels)
        try:
            self._put(change.path, data, cas)
        except ConflictError:
            if current is None:
                self._withdraw_claim(change.path, value, owner)
            raise
        return str(cas + 1)  # check-and-set: the version after ``cas``

    def _put(self, relpath: str, data: dict, cas: int) -> None:
        """Write ``data`` as the version after ``cas`` (a :class:`ConflictError` otherwise)."""
        try:
            self._kv.create_or_update_secret(
                path=self._full(relpath), secret=data, cas=cas, mount_point=self.mount
            )
        except InvalidRequest as exc:
            if "check-and-set" not in " ".join(exc.errors or []):
                raise vault_failure(exc, self.description, self.connection, relpath) from None
            raise self._conflict(
                relpath, f"changed since it was read (expected version {cas}); not overwritten"
            ) from None
        except Exception as exc:
            raise vault_failure(exc, self.description, self.connection, relpath) from None

    def _claim_new(self, relpath: str, cas: int, labels: dict[str, str | None]) -> None:
        """Record ownership of a secret about to be created (version ``cas`` is current:
        0 = none, else its latest version was deleted); a conflict if it was created since."""
        metadata = self._metadata(relpath)
        if metadata is None:
            custom = {k: v for k, v in labels.items() if v is not None}
            try:
                self._kv.update_metadata(
                    path=self._full(relpath), mount_point=self.mount, custom_metadata=custom
                )
            except Exception as exc:
                raise vault_failure(exc, self.description, self.connection, relpath) from None
        elif int(metadata.get("current_version") or 0) != cas:
            raise self._conflict(
                relpath, "created by someone else after it was read; not overwritten"
            )
        else:
            self._patch_metadata(relpath, labels)

    def _withdraw_claim(self, relpath: str, value: SecretValue, owner: str | None) -> None:
        """After losing a create race: the secret is someone else's unless it holds exactly
        what this write wanted (then it is the same pipeline's concurrent run)."""
        latest = self._read(relpath)
        if latest is not None and latest.owner == owner and not values_equal(latest.value, value):
            self._patch_metadata(
                relpath, {MANAGED_BY_KEY: None, OWNER_KEY: None, VALUE_KIND_KEY: None}
            )

    def _patch_metadata(self, relpath: str, custom: dict[str, str | None]) -> None:
        """Merge ``custom`` into ``custom_metadata`` (a JSON merge PATCH: the user's other
        keys stay, ``None`` removes a key)."""
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

    def _metadata(self, relpath: str) -> dict | None:
        """The secret's metadata, None if there is none."""
        try:
            response = self._kv.read_secret_metadata(
                path=self._full(relpath), mount_point=self.mount
            )
        except InvalidPath:
            return None
        except Exception as exc:
            raise vault_failure(exc, self.description, self.connection, relpath) from None
        return response.get("data") or {}

    def delete(self, secret: StoredSecret) -> None:
        """Delete metadata and all versions, only if still the version and owner read."""
        metadata = self._metadata(secret.path)
        if metadata is None:
            return
        version = secret.version.number if isinstance(secret.version, VaultVersion) else None
        if (
            int(metadata.get("current_version") or 0) != version
            or owner_from_labels(metadata.get("custom_metadata")) != secret.owner
        ):
            raise self._conflict(secret.path, "changed since it was read; not deleted")
        try:
            self._kv.delete_metadata_and_all_versions(
                path=self._full(secret.path), mount_point=self.mount
            )
        except InvalidPath:
            return
        except Exception as exc:
            raise vault_failure(exc, self.description, self.connection, secret.path) from None

    # -- rollback ----------------------------------------------------------------------------

    def current_version(self, path: str) -> tuple[str | None, str | None]:
        metadata = self._metadata(path)
        if metadata is None:
            return None, None
        number = int(metadata.get("current_version") or 0)
        latest = (metadata.get("versions") or {}).get(str(number)) or {}
        if not number or latest.get("deletion_time") or latest.get("destroyed"):
            return None, owner_from_labels(metadata.get("custom_metadata"))
        return str(number), owner_from_labels(metadata.get("custom_metadata"))

    def restore_version(self, path: str, version: str, *, expected: str) -> str:
        """The data of ``version`` written again as a new version (check-and-set on
        ``expected``); the value kind marker stays as it is."""
        try:
            response = self._kv.read_secret_version(
                path=self._full(path),
                version=int(version),
                mount_point=self.mount,
                raise_on_deleted_version=True,
            )
        except InvalidPath:
            raise StoreError(
                f"{self.description} '{path}': version {version} no longer exists"
            ) from None
        except Exception as exc:
            raise vault_failure(exc, self.description, self.connection, path) from None
        data = (response.get("data") or {}).get("data")
        if data is None:
            raise StoreError(f"{self.description} '{path}': version {version} was deleted")
        self._put(path, data, int(expected))
        return str(int(expected) + 1)

    def delete_version(self, path: str, *, expected: str, owner: str) -> None:
        self.delete(StoredSecret(path, None, owner=owner, version=VaultVersion(int(expected))))

    def undelete(self, path: str, version: str, *, owner: str, check_only: bool = False) -> str:
        """Vault deletes remove metadata and every version: nothing is left to bring back."""
        raise StoreError(
            f"{self.description} '{path}': cannot be restored, deleting removed every version"
        )

    def read_state(self) -> tuple[dict[str, Any] | None, Any]:
        path = self._state_path()
        try:
            response = self._kv.read_secret_version(
                path=path, mount_point=self.mount, raise_on_deleted_version=True
            )
        except InvalidPath:
            return None, None
        except Exception as exc:
            raise vault_failure(exc, self.description, self.connection, path) from None
        return response["data"]["data"], int(response["data"]["metadata"]["version"])

    def write_state(self, state: dict[str, Any], version: Any) -> None:
        path = self._state_path()
        try:
            self._kv.create_or_update_secret(
                path=path, secret=state, cas=version or 0, mount_point=self.mount
            )
        except InvalidRequest as exc:
            if "check-and-set" in " ".join(exc.errors or []):
                raise ConflictError(f"{self.description}: state record changed") from None
            raise vault_failure(exc, self.description, self.connection, path) from None
        except Exception as exc:
            raise vault_failure(exc, self.description, self.connection, path) from None

    def _state_path(self) -> str:
        if self.state_path is None:
            raise StoreError(f"{self.description}: not a merge store location (no state record)")
        return self.state_path

    def _conflict(self, relpath: str, why: str) -> ConflictError:
        return ConflictError(f"{self.description} '{relpath}': {why}")

    def _full(self, relpath: str) -> str:
        return "/".join(p for p in (self.path, relpath) if p)

    def __repr__(self) -> str:
        return f"VaultStore({self.description!r})"


#: Folder of the merge store's state records: target names cannot start with '.'.
STATE_FOLDER = ".state"


def open_store(block: VaultLocation, context: OpenContext) -> VaultStore:
    """The store of ``block``: its path; as a merge store, the target's folder
    ``<path>/<target>``, with its state record at ``<path>/.state/<target>``."""
    conn_id = block.connection_id or KIND.default_connection_id
    settings = context.config.pipeline
    workers = settings.read_concurrency
    connection = context.clients.get(
        ("vault", conn_id),
        lambda: vault_connection(conn_id, pool_size=workers * settings.stores_in_flight),
    )
    if context.role != "merge_store":
        return VaultStore(connection, mount=block.mount, path=block.path, workers=workers)
    base = path_prefix(block.path)
    return VaultStore(
        connection,
        mount=block.mount,
        path=_join(base, context.name),
        state_path=_join(base, STATE_FOLDER, context.name),
        workers=workers,
    )


def _join(*parts: str) -> str:
    return "/".join(part for part in parts if part)
