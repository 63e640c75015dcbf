"""Google Cloud Secret Manager store: every secret whose id starts with a prefix.

Values: the payload of the latest enabled version; UTF-8 text holding a JSON object is read as
a dict, other text as a string, anything else as ``bytes``. Writes: dicts (and other JSON
values) as JSON text, strings as UTF-8, bytes as is, each write a new version
(``addVersion``); then the versions before it are disabled, destroyed or kept
(``old_versions``). Reads cost one list request per 250 secrets and one ``access`` per secret.
Names and ownership marks: :mod:`.names`.

Concurrency: Secret Manager has no check-and-set on ``addVersion``. An update checks the
secret's ``etag`` (ownership unchanged) and that the latest version is still the one read,
then adds its version; if the new version's number is not the read one plus one, another
writer added a version in between: the write is reported as a conflict (the engine re-reads)
and no older version is disabled or destroyed. Deletes re-check the owner and send the
``etag`` read with the listing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from google.api_core import exceptions as gexc
from google.api_core.retry import Retry, if_exception_type
from google.auth.exceptions import GoogleAuthError
from google.cloud.secretmanager import SecretManagerServiceClient, SecretVersion

from airflow_secretsync.errors import ConflictError, StoreError
from airflow_secretsync.stores.base import (
    Deadline,
    DestinationStore,
    SecretValue,
    SecretWrite,
    StoredSecret,
    json_normalized,
    json_object_or_text,
)
from airflow_secretsync.stores.concurrency import bounded_map
from airflow_secretsync.stores.gcp import KIND, GcpDestination, GcpSource
from airflow_secretsync.stores.gcp.connection import GcpConnection, gcp_connection
from airflow_secretsync.stores.gcp.names import (
    check_ids,
    ownership_marks,
    path_of,
    recorded_owner,
    secret_id,
)
from airflow_secretsync.stores.registry import OpenContext
from airflow_secretsync.stores.server_errors import gcp_reason, gcp_status

log = logging.getLogger(__name__)

MAX_PAYLOAD_BYTES = 64 * 1024
LIST_PAGE_SIZE = 250
DEFAULT_WORKERS = 4
#: Every call gives up after this many seconds (requests' connect/read timeout).
TIMEOUT = 15.0
#: Idempotent calls are retried on throttling and unavailability, bounded in time.
RETRY = Retry(
    predicate=if_exception_type(
        gexc.TooManyRequests, gexc.ServiceUnavailable, gexc.InternalServerError
    ),
    initial=0.2,
    maximum=2.0,
    multiplier=2.0,
    timeout=30.0,
)
OldVersions = Literal["disable", "destroy", "keep"]
_T = TypeVar("_T")
#: ``latest`` has no enabled version: none at all, or disabled / destroyed.
_NO_VERSION = (gexc.NotFound, gexc.FailedPrecondition, gexc.BadRequest)
#: What a call may raise besides the API's answers: auth, network (requests), bad responses.
_FAILURES = (gexc.GoogleAPICallError, GoogleAuthError, OSError, ValueError)


@dataclass(frozen=True)
class GcpRef:
    """What a listing saw of one secret: its resource name, etag, the number of its latest
    version (enabled or not) and its marks (names and owners, never values)."""

    name: str
    etag: str
    latest: int | None
    labels: dict[str, str] = field(default_factory=dict, compare=False)
    annotations: dict[str, str] = field(default_factory=dict, compare=False)


def encode(value: SecretValue) -> bytes:
    """The payload of a stored-form value."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    return json.dumps(value, ensure_ascii=False).encode()


def decode(data: bytes) -> SecretValue:
    """A payload as a dict (JSON object text), a string (other UTF-8 text) or bytes."""
    try:
        return json_object_or_text(data.decode())
    except UnicodeDecodeError:
        return data


def payload(value: SecretValue, where: str) -> bytes:
    """The payload of ``value``; :class:`StoreError` naming ``where`` if it is too large."""
    data = encode(value if isinstance(value, str | bytes) else json_normalized(value, where))
    if len(data) > MAX_PAYLOAD_BYTES:
        raise StoreError(
            f"{where}: the value is {len(data)} bytes; Secret Manager holds at most "
            f"{MAX_PAYLOAD_BYTES}"
        )
    return data


def _version_number(name: str) -> int:
    return int(name.rsplit("/", 1)[1])


class GcpSecretStore(DestinationStore):
    """Every secret of ``project`` (regional: ``location``) whose id starts with ``prefix``,
    by relative path; ``source`` stores skip secrets without an enabled version."""

    def __init__(
        self,
        connection: GcpConnection,
        project: str,
        *,
        location: str | None = None,
        prefix: str = "",
        role: Literal["source", "destination"] = "destination",
        old_versions: OldVersions = "disable",
        labels: dict[str, str] | None = None,
        replica_locations: Sequence[str] = (),
        workers: int = DEFAULT_WORKERS,
    ) -> None:
        self.connection = connection
        self.client: SecretManagerServiceClient = connection.client
        self.prefix = prefix
        self.role = role
        self.old_versions = old_versions
        self.labels = dict(labels or {})
        self.replica_locations = list(replica_locations)
        self.location = location
        self.workers = max(1, workers)
        self.parent = f"projects/{project}" + (f"/locations/{location}" if location else "")
        self.description = f"gcp://{self.parent}/secrets/{prefix}"
        #: secret id -> relative path of the last listing, and of that plus every path
        #: :meth:`to_stored` was asked about since (the diff's desired paths): collisions.
        self._taken: dict[str, str] = {}
        self._claims: dict[str, str] = {}

    # -- calls ----------------------------------------------------------------------------------

    def _call(self, action: str, path: str | None, call: Callable[[], _T]) -> _T:
        """``call()``, its failure turned into a value-free :class:`StoreError` (an etag
        mismatch into :class:`ConflictError`)."""
        try:
            return call()
        except _FAILURES as exc:
            raise self._failure(exc, action, path) from None

    def _failure(self, exc: BaseException, action: str, path: str | None) -> StoreError:
        if isinstance(exc, gexc.Conflict) or gcp_status(exc) == "ABORTED":
            return ConflictError(
                f"{self._where(path)}: {action}: changed by someone else after it was read"
            )
        reason = gcp_reason(exc)
        conn = self.connection.conn_id
        return StoreError(f"{self._where(path)} (connection '{conn}'): {action}: {reason}")

    def _where(self, path: str | None) -> str:
        return f"{self.description} '{path}'" if path else self.description

    # -- reading --------------------------------------------------------------------------------

    def list_secrets(self) -> dict[str, StoredSecret]:
        resources = self._call("list secrets", None, self._list_resources)
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            found = [r for _, r in resources]
            accessed = list(bounded_map(pool, self._latest_enabled, found, self.workers))
        secrets: dict[str, StoredSecret] = {}
        self._taken = {}
        for (path, resource), (latest, readable, value) in zip(resources, accessed, strict=True):
            annotations = dict(resource.annotations)
            self._taken[resource.name.rsplit("/", 1)[1]] = path
            if not readable and self.role == "source":
                continue  # no enabled version: nothing to read
            ref = GcpRef(resource.name, resource.etag, latest, dict(resource.labels), annotations)
            owner = recorded_owner(annotations)
            secrets[path] = StoredSecret(path=path, value=value, owner=owner, version=ref)
        self._claims = dict(self._taken)
        log.info("%s: %d secrets", self.description, len(secrets))
        return secrets

    def _list_resources(self) -> list[tuple[str, Any]]:
        request: dict[str, Any] = {"parent": self.parent, "page_size": LIST_PAGE_SIZE}
        if self.prefix:
            request["filter"] = f"name:{self.prefix}"  # a substring: narrowed below
        found = []
        pages = self.client.list_secrets(request=request, retry=RETRY, timeout=TIMEOUT)
        for resource in pages:
            sid = resource.name.rsplit("/", 1)[1]
            if sid.startswith(self.prefix) and len(sid) > len(self.prefix):
                found.append((path_of(self.prefix, sid, resource.annotations), resource))
        return found

    def _latest_enabled(self, resource: Any) -> tuple[int | None, bool, SecretValue]:
        """The number of the latest version (None: no version), whether an enabled version
        exists, and the value of the newest enabled one. ``latest`` is accessed first; when it
        is disabled or destroyed, the newest enabled version is looked up."""
        path = path_of(self.prefix, resource.name.rsplit("/", 1)[1], resource.annotations)

        def access(version: str) -> Any:
            return self.client.access_secret_version(
                name=f"{resource.name}/versions/{version}", retry=RETRY, timeout=TIMEOUT
            )

        try:
            answer = access("latest")
            return _version_number(answer.name), True, decode(answer.payload.data)
        except _NO_VERSION:
            pass
        except _FAILURES as exc:
            raise self._failure(exc, "access latest version", path) from None
        latest = self._latest_number(resource.name, path)
        enabled = self._call(
            "list versions", path, lambda: self._versions(resource.name, "ENABLED")
        )
        if latest is None or not enabled:
            return latest, False, None
        newest = str(max(enabled))
        answer = self._call("access version", path, lambda: access(newest))
        return latest, True, decode(answer.payload.data)

    def _versions(self, name: str, state: str | None = None) -> dict[int, str]:
        """Version numbers (with their etags) of secret ``name``, optionally in ``state``."""
        request: dict[str, Any] = {"parent": name, "page_size": LIST_PAGE_SIZE}
        if state:
            request["filter"] = f"state:{state}"
        versions = self.client.list_secret_versions(request=request, retry=RETRY, timeout=TIMEOUT)
        return {
            _version_number(v.name): v.etag
            for v in versions
            if v.state != SecretVersion.State.DESTROYED
        }

    # -- writing --------------------------------------------------------------------------------

    def to_stored(self, value: SecretValue, *, path: str | None = None) -> SecretValue:
        """``value`` as it reads back. Too large a payload, or a path whose secret id an
        existing secret or another path given since the last listing has, is an error: the
        diff calls this for every desired path, so a dry run shows it too."""
        data = payload(value, self._where(path))
        if path is not None:
            check_ids(self.prefix, [path], self._claims, self.description)
            self._claims[secret_id(self.prefix, path)] = path
        return decode(data)

    def apply(
        self,
        writes: Sequence[SecretWrite],
        deletes: Sequence[StoredSecret] = (),
        *,
        owner: str | None = None,
        parallel: int = 8,
        done: set[str] | None = None,
        deadline: Deadline | None = None,
        versions: dict[str, str | None] | None = None,
    ) -> None:
        """Check every write's secret id first (collisions name both paths), then apply."""
        paths = [w.path for w in writes]
        taken = {sid: p for sid, p in self._taken.items() if p not in paths}
        check_ids(self.prefix, paths, taken, self.description)
        super().apply(
            writes,
            deletes,
            owner=owner,
            parallel=parallel,
            done=done,
            deadline=deadline,
            versions=versions,
        )

    def write(self, change: SecretWrite, *, owner: str | None = None) -> None:
        data = payload(change.value, self._where(change.path))
        labels, annotations = ownership_marks(owner or "", change.path)
        labels = {**self.labels, **labels}
        current = change.current.version if change.current is not None else None
        if isinstance(current, GcpRef):
            name = current.name
            seen = self._claim_existing(current, labels, annotations, change.path)
        else:
            name = self._create(change.path, labels, annotations)
            seen = None
        added = self._call(
            "add version",
            change.path,
            lambda: self.client.add_secret_version(
                request={"parent": name, "payload": {"data": data}}, timeout=TIMEOUT
            ),
        )
        number = _version_number(added.name)
        if number != (seen or 0) + 1:
            raise ConflictError(
                f"{self._where(change.path)}: another version was added while this one was "
                "written; older versions left as they are"
            )
        self._retire_versions(name, number, change.path)

    def _create(self, path: str, labels: dict[str, str], annotations: dict[str, str]) -> str:
        sid = secret_id(self.prefix, path)
        secret: dict[str, Any] = {"labels": labels, "annotations": annotations}
        if self.location is None:
            replicas = [{"location": loc} for loc in self.replica_locations]
            secret["replication"] = (
                {"user_managed": {"replicas": replicas}} if replicas else {"automatic": {}}
            )
        request = {"parent": self.parent, "secret_id": sid, "secret": secret}
        try:
            created = self.client.create_secret(request=request, timeout=TIMEOUT)
        except gexc.Conflict:  # ALREADY_EXISTS
            raise ConflictError(
                f"{self._where(path)}: created by someone else after it was read; not overwritten"
            ) from None
        except _FAILURES as exc:
            raise self._failure(exc, "create secret", path) from None
        return created.name

    def _claim_existing(
        self, current: GcpRef, labels: dict[str, str], annotations: dict[str, str], path: str
    ) -> int | None:
        """Record ownership before the value (with the etag read: a secret whose marks changed
        since is a conflict), and check the latest version is still the one read."""
        wanted_labels = {**current.labels, **labels}
        wanted_annotations = {**current.annotations, **annotations}
        if wanted_labels != current.labels or wanted_annotations != current.annotations:
            secret = {
                "name": current.name,
                "labels": wanted_labels,
                "annotations": wanted_annotations,
                "etag": current.etag,
            }
            mask = {"paths": ["labels", "annotations"]}
            self._call(
                "update labels",
                path,
                lambda: self.client.update_secret(
                    request={"secret": secret, "update_mask": mask}, timeout=TIMEOUT
                ),
            )
        else:
            resource = self._call(
                "get secret",
                path,
                lambda: self.client.get_secret(name=current.name, retry=RETRY, timeout=TIMEOUT),
            )
            if resource.etag != current.etag:
                raise ConflictError(f"{self._where(path)}: changed after it was read; not written")
        latest = self._latest_number(current.name, path)
        if latest != current.latest:
            raise ConflictError(
                f"{self._where(path)}: a version was added after it was read; not written"
            )
        return latest

    def _latest_number(self, name: str, path: str) -> int | None:
        try:
            version = self.client.get_secret_version(
                name=f"{name}/versions/latest", retry=RETRY, timeout=TIMEOUT
            )
        except gexc.NotFound:
            return None
        except _FAILURES as exc:
            raise self._failure(exc, "get latest version", path) from None
        return _version_number(version.name)

    def _retire_versions(self, name: str, number: int, path: str) -> None:
        """Apply ``old_versions`` to the versions before ``number``."""
        if self.old_versions == "keep":
            return
        state = "ENABLED" if self.old_versions == "disable" else None
        versions = self._call("list versions", path, lambda: self._versions(name, state))
        for old, etag in sorted(versions.items()):
            if old >= number:
                continue
            request = {"name": f"{name}/versions/{old}", "etag": etag}
            try:
                if self.old_versions == "disable":
                    self.client.disable_secret_version(request=request, timeout=TIMEOUT)
                else:
                    self.client.destroy_secret_version(request=request, timeout=TIMEOUT)
            except (gexc.Conflict, gexc.BadRequest, gexc.NotFound):  # etag, state, gone
                log.info("%s: version %d changed meanwhile; left as is", self._where(path), old)
            except _FAILURES as exc:
                raise self._failure(exc, f"{self.old_versions} version", path) from None

    def delete(self, secret: StoredSecret) -> None:
        """Delete the secret and all its versions, only if its owner is still the one read
        (and, with the listing's etag, nothing else about it changed)."""
        ref = secret.version
        name = (
            ref.name
            if isinstance(ref, GcpRef)
            else f"{self.parent}/secrets/" + secret_id(self.prefix, secret.path)
        )
        try:
            resource = self.client.get_secret(name=name, retry=RETRY, timeout=TIMEOUT)
        except gexc.NotFound:
            return
        except _FAILURES as exc:
            raise self._failure(exc, "get secret", secret.path) from None
        if recorded_owner(dict(resource.annotations)) != secret.owner:
            raise ConflictError(
                f"{self._where(secret.path)}: its owner changed since it was read; not deleted"
            )
        etag = ref.etag if isinstance(ref, GcpRef) else resource.etag
        try:
            self.client.delete_secret(request={"name": name, "etag": etag}, timeout=TIMEOUT)
        except gexc.NotFound:
            return
        except _FAILURES as exc:
            raise self._failure(exc, "delete secret", secret.path) from None

    def __repr__(self) -> str:
        return f"GcpSecretStore({self.description!r})"


def open_store(block: GcpSource, context: OpenContext) -> GcpSecretStore:
    """The store of a ``gcp`` source or destination block (one client per connection and
    endpoint for the whole run)."""
    conn_id = block.connection_id or KIND.default_connection_id
    connection = context.clients.get(
        ("gcp", conn_id, block.location), lambda: gcp_connection(conn_id, block.location)
    )
    project = block.project or connection.project
    if not project:
        raise StoreError(
            f"gcp store of '{context.name}': no project (set 'project' in the block or the "
            f"'project' extra of GCP connection '{conn_id}')"
        )
    options: dict[str, Any] = {}
    if isinstance(block, GcpDestination):
        options = {
            "old_versions": block.old_versions,
            "labels": block.labels,
            "replica_locations": block.replica_locations,
        }
    role = "source" if context.role == "source" else "destination"
    return GcpSecretStore(
        connection,
        project,
        location=block.location,
        prefix=block.prefix,
        role=role,
        **options,
    )
