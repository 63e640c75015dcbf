"""Kubernetes Secrets (core/v1) in one namespace: one Opaque Secret per relative path.

- Name: ``prefix + mapped(path)`` (see :mod:`.names`); the path itself is kept in the
  annotation ``secretsync.io/path`` so it reads back unchanged. Secrets without it (not
  written by this tool) read back under their name without the prefix.
- Data: the value's keys are the data keys (string values as is, other values as their JSON
  text). A non-dict value is stored under the data key ``value`` and marked with the annotation
  ``secretsync.io/value: string|json|binary`` so it reads back as it was.
- Ownership (see :mod:`~airflow_secretsync.stores.ownership`): the labels
  ``app.kubernetes.io/managed-by=airflow-secretsync`` and ``secretsync.io/managed=true`` and
  the annotation ``secretsync.io/owner=<dag_id>/<target>`` (a label value cannot hold it), set
  in the same request as the data.
- Writes and deletes carry the ``resourceVersion`` that was read; creates are POSTs. A 409
  becomes a :class:`~airflow_secretsync.errors.ConflictError` (the engine re-reads and
  re-diffs).
- Only ``Opaque`` Secrets are read or written; others are skipped, and a path mapping to one
  of their names is refused. A destination lists the whole namespace (one paginated list), so
  it sees Secrets it did not create under the names it would write.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from airflow_secretsync.errors import ConflictError, StoreError
from airflow_secretsync.stores.base import (
    DestinationStore,
    SecretValue,
    SecretWrite,
    StoredSecret,
    json_normalized,
)
from airflow_secretsync.stores.kubernetes.connection import (
    REQUEST_TIMEOUT,
    KubernetesConnection,
    kubernetes_connection,
)
from airflow_secretsync.stores.kubernetes.names import check_data_key, secret_name
from airflow_secretsync.stores.ownership import (
    MANAGED_BY_KEY,
    OWNER_KEY,
    owner_from_labels,
    owner_labels,
)
from airflow_secretsync.stores.server_errors import kubernetes_reason

if TYPE_CHECKING:
    from airflow_secretsync.stores.kubernetes import KubernetesDestination, KubernetesSource
    from airflow_secretsync.stores.registry import OpenContext

log = logging.getLogger(__name__)

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
#: A label for selection only (``kubectl get secrets -l secretsync.io/managed=true``).
MANAGED_LABEL = "secretsync.io/managed"
OWNER_ANNOTATION = "secretsync.io/owner"
PATH_ANNOTATION = "secretsync.io/path"
VALUE_ANNOTATION = "secretsync.io/value"
WRAPPED = "value"
OPAQUE = "Opaque"
PAGE_SIZE = 500
#: Where the ownership rule's keys live on a Secret (labels hold at most 63 characters).
_LABEL_OF = {MANAGED_BY_KEY: MANAGED_BY_LABEL}
_ANNOTATION_OF = {OWNER_KEY: OWNER_ANNOTATION}


@dataclass(frozen=True)
class SecretVersion:
    """What a write needs of a listed Secret: its name, ``resourceVersion`` and metadata."""

    name: str
    resource_version: str
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)


def recorded_owner(labels: Mapping[str, str], annotations: Mapping[str, str]) -> str | None:
    """The owner a Secret records, by the one rule of :mod:`.ownership`."""
    marks = {key: labels.get(label) for key, label in _LABEL_OF.items()}
    marks.update({key: annotations.get(note) for key, note in _ANNOTATION_OF.items()})
    return owner_from_labels(marks)


def ownership_metadata(owner: str) -> tuple[dict[str, str], dict[str, str]]:
    """The labels and annotations a write records for ``owner``."""
    rule = owner_labels(owner)
    labels = {label: rule[key] for key, label in _LABEL_OF.items()}
    labels[MANAGED_LABEL] = "true"
    return labels, {note: rule[key] for key, note in _ANNOTATION_OF.items()}


def wrap(value: SecretValue) -> tuple[dict[str, bytes], str | None]:
    """The data (as bytes) of a stored-form value and its ``secretsync.io/value`` kind."""
    if isinstance(value, dict):
        return {k: v.encode() for k, v in value.items()}, None
    if isinstance(value, bytes):
        return {WRAPPED: value}, "binary"
    if isinstance(value, str):
        return {WRAPPED: value.encode()}, "string"
    return {WRAPPED: json.dumps(value).encode()}, "json"


def unwrap(data: Mapping[str, bytes], kind: str | None, where: str) -> SecretValue:
    """The value :func:`wrap` stored; a dict of text values for any other Secret."""
    raw = data.get(WRAPPED)
    if kind in ("string", "json", "binary") and set(data) == {WRAPPED} and raw is not None:
        if kind == "binary":
            return raw
        try:
            text = raw.decode()
            return text if kind == "string" else json.loads(text)
        except ValueError:
            pass  # edited by hand: read it as the plain Secret it now is
    value: dict[str, str] = {}
    for key, item in data.items():
        try:
            value[key] = item.decode()
        except UnicodeDecodeError:
            raise StoreError(f"{where}: data key '{key}' is not UTF-8 text") from None
    return value


class KubernetesStore(DestinationStore):
    """The Opaque Secrets of ``namespace`` whose names start with ``prefix``, by path."""

    def __init__(
        self,
        connection: KubernetesConnection,
        *,
        namespace: str,
        prefix: str = "",
        label_selector: str | None = None,
    ) -> None:
        self.connection = connection
        self.api = connection.api
        self.namespace = namespace
        self.prefix = prefix
        self.label_selector = label_selector
        self.description = f"kubernetes://{namespace}/{prefix}"
        self._lock = threading.Lock()
        self._listed: dict[str, StoredSecret] = {}  # by Secret name, from the last listing
        self._skipped: dict[str, str] = {}  # other types by name, never touched
        self._claimed: dict[str, str] = {}  # Secret name -> desired path (to_stored)

    # -- reading -----------------------------------------------------------------------------

    def list_secrets(self) -> dict[str, StoredSecret]:
        listed: dict[str, StoredSecret] = {}
        skipped: dict[str, str] = {}
        for item in self._items():
            name = item.metadata.name
            if not name.startswith(self.prefix) or name == self.prefix:
                continue
            if (item.type or OPAQUE) != OPAQUE:
                skipped[name] = item.type
                continue
            listed[name] = self._stored(item)
        with self._lock:
            self._listed, self._skipped, self._claimed = listed, skipped, {}
        log.info(
            "%s: %d secrets (%d of other types skipped)",
            self.description,
            len(listed),
            len(skipped),
        )
        return {s.path: s for s in listed.values()}

    def _items(self) -> Iterator[client.V1Secret]:
        token: str | None = None
        while True:
            try:
                page = self.api.list_namespaced_secret(
                    self.namespace,
                    label_selector=self.label_selector or None,
                    limit=PAGE_SIZE,
                    _continue=token,
                    _request_timeout=REQUEST_TIMEOUT,
                )
            except Exception as exc:
                raise self._failure(exc, "list", None) from None
            yield from page.items or []
            token = page.metadata._continue if page.metadata else None
            if not token:
                return

    def _stored(self, item: client.V1Secret) -> StoredSecret:
        meta = item.metadata
        labels, annotations = dict(meta.labels or {}), dict(meta.annotations or {})
        where = f"{self.description} Secret '{meta.name}'"
        try:
            data = {k: base64.b64decode(v) for k, v in (item.data or {}).items()}
        except (binascii.Error, ValueError):
            raise StoreError(f"{where}: data that is not base64") from None
        return StoredSecret(
            path=self._path_of(meta.name, annotations.get(PATH_ANNOTATION)),
            value=unwrap(data, annotations.get(VALUE_ANNOTATION), where),
            owner=recorded_owner(labels, annotations),
            version=SecretVersion(meta.name, meta.resource_version, labels, annotations),
        )

    def _path_of(self, name: str, recorded: str | None) -> str:
        """The recorded path if it still maps to ``name``, else the name without prefix."""
        if recorded:
            try:
                if secret_name(self.prefix, recorded, self.description) == name:
                    return recorded
            except StoreError:
                pass
        return name[len(self.prefix) :]

    # -- writing -----------------------------------------------------------------------------

    def to_stored(self, value: SecretValue, *, path: str | None = None) -> SecretValue:
        """The value as the Secret holds it; refuses (before any write, in a dry run too) a
        path whose name another desired path, an existing Secret of another path or a Secret
        of another type already has."""
        if path is not None:
            self._claim(path)
        where = f"{self.description} '{path}'" if path else self.description
        return self._stored_form(value, where)

    def _claim(self, path: str) -> None:
        name = secret_name(self.prefix, path, self.description)
        with self._lock:
            other = self._claimed.setdefault(name, path)
            existing = self._listed.get(name)
            kind = self._skipped.get(name)
        if other != path:
            raise StoreError(
                f"{self.description}: '{other}' and '{path}' both map to the Secret '{name}'"
            )
        if existing is not None and existing.path != path:
            raise StoreError(
                f"{self.description}: '{path}' maps to the Secret '{name}', which already holds "
                f"'{existing.path}'; rename one of them"
            )
        if kind is not None:
            raise StoreError(
                f"{self.description}: '{path}' maps to the Secret '{name}' of type '{kind}'; "
                f"only {OPAQUE} Secrets are written, others are never touched"
            )

    @staticmethod
    def _stored_form(value: SecretValue, where: str) -> SecretValue:
        if isinstance(value, bytes | str):
            return value
        if not isinstance(value, dict):
            return json_normalized(value, where)
        stored: dict[str, str] = {}
        for key, item in value.items():
            check_data_key(key, where)
            if isinstance(item, bytes):
                raise StoreError(f"{where}: key '{key}' holds binary data inside an object")
            stored[key] = (
                item
                if isinstance(item, str)
                else json.dumps(json_normalized(item, f"{where} key '{key}'"))
            )
        return stored

    def write(self, change: SecretWrite, *, owner: str | None = None) -> None:
        """POST a new Secret or PUT over the version read; ownership in the same request."""
        name = secret_name(self.prefix, change.path, self.description)
        where = f"{self.description} '{change.path}'"
        data, kind = wrap(self._stored_form(change.value, where))
        current = change.current.version if change.current is not None else None
        ours_labels, ours_annotations = ownership_metadata(owner or "")
        labels = {**(current.labels if current else {}), **ours_labels}
        annotations = {
            **(current.annotations if current else {}),
            **ours_annotations,
            PATH_ANNOTATION: change.path,
        }
        annotations.pop(VALUE_ANNOTATION, None)
        if kind is not None:
            annotations[VALUE_ANNOTATION] = kind
        body = client.V1Secret(
            metadata=client.V1ObjectMeta(
                name=name,
                labels=labels,
                annotations=annotations,
                resource_version=current.resource_version if current else None,
            ),
            type=OPAQUE,
            data={k: base64.b64encode(v).decode() for k, v in data.items()},
        )
        try:
            if current is None:
                self.api.create_namespaced_secret(
                    self.namespace, body, _request_timeout=REQUEST_TIMEOUT
                )
            else:
                self.api.replace_namespaced_secret(
                    name, self.namespace, body, _request_timeout=REQUEST_TIMEOUT
                )
        except ApiException as exc:
            if exc.status == 409 and current is None:
                raise self._conflict(
                    change.path, "created by someone else after it was read"
                ) from None
            if exc.status in (404, 409) and current is not None:
                raise self._conflict(
                    change.path, "changed since it was read; not overwritten"
                ) from None
            action = "create" if current is None else "update"
            raise self._failure(exc, action, change.path) from None
        except Exception as exc:
            raise self._failure(exc, "write", change.path) from None

    def delete(self, secret: StoredSecret) -> None:
        """Delete the Secret only if it is still the version that was read."""
        version = secret.version
        if not isinstance(version, SecretVersion):
            raise StoreError(f"{self.description} '{secret.path}': not read from this store")
        options = client.V1DeleteOptions(
            preconditions=client.V1Preconditions(resource_version=version.resource_version)
        )
        try:
            self.api.delete_namespaced_secret(
                version.name, self.namespace, body=options, _request_timeout=REQUEST_TIMEOUT
            )
        except ApiException as exc:
            if exc.status == 404:
                return
            if exc.status == 409:
                raise self._conflict(
                    secret.path, "changed since it was read; not deleted"
                ) from None
            raise self._failure(exc, "delete", secret.path) from None
        except Exception as exc:
            raise self._failure(exc, "delete", secret.path) from None

    def _conflict(self, path: str, why: str) -> ConflictError:
        return ConflictError(f"{self.description} '{path}': {why}")

    def _failure(self, exc: BaseException, action: str, path: str | None) -> StoreError:
        """A value-free error naming the connection (the API's message is never shown)."""
        what = f"{self.description} '{path}'" if path else self.description
        conn = self.connection
        reason = kubernetes_reason(exc)
        if action in ("list", "create") and getattr(exc, "status", None) == 404:
            reason = f"the namespace '{self.namespace}' does not exist (HTTP 404)"
        return StoreError(
            f"{what}: {action} failed (connection '{conn.conn_id}' at {conn.host}): {reason}"
        )

    def __repr__(self) -> str:
        return f"KubernetesStore({self.description!r})"


def open_store(
    block: KubernetesDestination | KubernetesSource, context: OpenContext
) -> KubernetesStore:
    """The store of a ``kubernetes:`` source or destination block (one client per connection
    per run)."""
    conn_id = block.connection_id or _configured_id(context)
    connection = context.clients.get(
        ("kubernetes", conn_id), lambda: kubernetes_connection(conn_id)
    )
    return KubernetesStore(
        connection,
        namespace=block.namespace or connection.namespace or "default",
        prefix=block.prefix,
        label_selector=getattr(block, "label_selector", None),
    )


def _configured_id(context: OpenContext) -> str:
    """The ``connections: kubernetes:`` id of the config, else ``kubernetes_default``."""
    from airflow_secretsync.stores.kubernetes import KIND

    connections = getattr(context.config, "connections", None)
    return getattr(connections, KIND.connection, None) or KIND.default_connection_id
