"""The GitHub Actions secrets destination (SPEC §9).

Values are write-only: GitHub lists names and timestamps, never values. A listed secret's
``value`` is therefore ``None`` and "unchanged" is decided from versions (:meth:`same_value`):
a secret this target owns (it is in the state record, see :mod:`.state`) is unchanged when the
merge-store version of its desired value is the one last pushed and GitHub's ``updated_at`` is
not newer than right after that push (an edit by hand moves it on). Without a merge store there
is no state record: nothing is owned and the store cannot tell, so every desired secret is
written each run (overwriting existing ones needs ``adopt: true``) and a dry run shows them as
modified with ``keys_modified: ["<unknown: write-only>"]``.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from airflow_secretsync.errors import StoreError
from airflow_secretsync.stores.base import (
    Deadline,
    DestinationStore,
    MergeStore,
    SecretValue,
    SecretWrite,
    StoredSecret,
    json_normalized,
)
from airflow_secretsync.stores.github import KIND, GithubDestination
from airflow_secretsync.stores.github.api import DEFAULT_BASE_URL, GithubApi, encrypt
from airflow_secretsync.stores.github.names import secret_name
from airflow_secretsync.stores.github.state import Entries, StateRecord, version_token

if TYPE_CHECKING:
    from airflow_secretsync.stores.registry import OpenContext

log = logging.getLogger(__name__)

#: GitHub's limit on the size of one secret value.
MAX_VALUE_BYTES = 48 * 1024


@dataclass(frozen=True)
class GithubListed:
    """What GitHub says of a listed secret (the ``version`` of its :class:`StoredSecret`)."""

    name: str
    updated_at: str | None
    visibility: str | None = None


class GithubStore(DestinationStore):
    """The Actions secrets of one repository, environment or organization whose names start
    with the block's ``prefix``, keyed by secret name."""

    def __init__(
        self,
        api: GithubApi,
        block: GithubDestination,
        *,
        owner: str,
        merge_store: MergeStore | None,
        deadline: Deadline | None = None,
    ) -> None:
        self.api = api
        self.block = block
        self.owner = owner
        self.location = block.location
        self.description = f"github:{self.location}" + (f":{block.prefix}*" if block.prefix else "")
        self.merge_store = merge_store
        self.state = StateRecord(merge_store, f"{api.base_url}/{self.location}".lower())
        self.deadline = deadline
        self._lock = threading.Lock()
        self._entries: Entries = {}
        self._merged: dict[str, StoredSecret] | None = None
        self._listed: set[str] | None = None  # names found by the last listing
        self._pushed: Entries = {}
        self._deleted: list[str] = []

    # -- reading -----------------------------------------------------------------------------

    def list_secrets(self) -> dict[str, StoredSecret]:
        """Names and timestamps (values are ``None``), owned if in the state record."""
        self._entries = self.state.read()
        self._merged = self.merge_store.list_secrets() if self.merge_store is not None else None
        found: dict[str, StoredSecret] = {}
        for item in self.api.pages(self.block.secrets_path, self.description, "secrets"):
            name = str(item.get("name", "")).upper()
            if not name.startswith(self.block.prefix):
                continue
            entry = self._entries.get(name)
            found[name] = StoredSecret(
                path=entry["path"] if entry else name,
                value=None,
                owner=self.owner if entry else None,
                version=GithubListed(name, item.get("updated_at"), item.get("visibility")),
            )
        self._listed = set(found)
        log.info("%s: %d secrets", self.description, len(found))
        return found

    def secret_name(self, path: str) -> str:
        return secret_name(self.block.prefix, path, self.description)

    def to_stored(self, value: SecretValue, *, path: str | None = None) -> str:
        """The text GitHub keeps: strings as they are, other values as JSON text."""
        where = f"{self.description} '{path}'" if path else self.description
        if isinstance(value, bytes):
            raise StoreError(f"{where}: binary values cannot be GitHub secrets")
        text = value if isinstance(value, str) else json.dumps(json_normalized(value, where))
        if len(text.encode()) > MAX_VALUE_BYTES:
            raise StoreError(f"{where}: the value is larger than GitHub's 48 KB limit")
        return text

    def same_value(self, path: str, value: SecretValue, current: StoredSecret) -> bool | None:
        """Unchanged when the merge-store version of ``value`` was the last one pushed, nothing
        edited the secret since and (organization) its visibility is the configured one.
        ``None`` without a merge store or for a secret this target did not push."""
        listed = current.version
        entry = self._entries.get(listed.name) if isinstance(listed, GithubListed) else None
        if self._merged is None or entry is None:
            return None
        pushed = self._merged_version(path, value)
        if pushed is None or entry.get("version") != pushed:
            return False
        if _later(listed.updated_at, entry.get("updated_at")):
            return False  # edited since our push
        return self._org_fields() == {
            k: entry.get(k) for k in ("visibility", "repositories") if k in entry
        }

    def _merged_version(self, path: str, value: str) -> int | str | None:
        """The merge-store version holding exactly ``value`` at ``path`` (None: not there)."""
        merged = (self._merged or {}).get(path)
        if merged is None or self.to_stored(merged.value, path=path) != value:
            return None
        return version_token(merged.version)

    def _org_fields(self) -> dict[str, Any]:
        """Visibility and selected repository ids of an organization secret ({} otherwise)."""
        block = self.block
        if block.organization is None:
            return {}
        ids = sorted(
            self.api.repository_id(
                repo if "/" in repo else f"{block.organization}/{repo}", self.description
            )
            for repo in block.selected_repositories
        )
        return {"visibility": block.org_visibility, "repositories": ids}

    # -- writing -----------------------------------------------------------------------------

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
        """Record the names about to be created in the state record, apply, then record what
        was pushed and deleted (also after a failure, for what succeeded)."""
        self.deadline = deadline or self.deadline
        names = {self.secret_name(w.path): w.path for w in writes}

        def claim(entries: Entries) -> None:
            for name, path in names.items():
                if entries.get(name, {}).get("path") != path:
                    entries[name] = {"path": path, "version": None, "updated_at": None}

        self.state.update(claim)
        self._pushed, self._deleted = {}, []
        try:
            super().apply(
                writes,
                deletes,
                owner=owner,
                parallel=parallel,
                done=done,
                deadline=deadline,
                versions=versions,
            )
        finally:
            self.state.update(self._record)

    def _record(self, entries: Entries) -> None:
        entries.update(self._pushed)
        for name in self._deleted:
            entries.pop(name, None)
        if self._listed is None:
            return
        for name in [n for n in entries if n not in self._listed and n not in self._pushed]:
            if entries[name].get("version") is not None:  # pushed once, gone since (by hand)
                del entries[name]

    def write(self, change: SecretWrite, *, owner: str | None = None) -> None:
        name = self.secret_name(change.path)
        what = f"{self.description} '{change.path}'"
        value = self.to_stored(change.value, path=change.path)
        key_id, key = self.api.public_key(self.block.secrets_path, what)
        body: dict[str, Any] = {"encrypted_value": encrypt(key, value), "key_id": key_id}
        org = self._org_fields()
        if org:
            body["visibility"] = org["visibility"]
            if org["visibility"] == "selected":
                body["selected_repository_ids"] = org["repositories"]
        url = f"{self.block.secrets_path}/{name}"
        self.api.call("PUT", url, what, body=body, deadline=self.deadline)
        answer = self.api.call("GET", url, what, deadline=self.deadline)
        assert answer is not None
        entry = {
            "path": change.path,
            "version": self._merged_version(change.path, value),
            "updated_at": answer.json().get("updated_at"),
            **org,
        }
        with self._lock:
            self._pushed[name] = entry

    def delete(self, secret: StoredSecret) -> None:
        listed = secret.version
        name = listed.name if isinstance(listed, GithubListed) else self.secret_name(secret.path)
        what = f"{self.description} '{secret.path}'"
        url = f"{self.block.secrets_path}/{name}"
        self.api.call("DELETE", url, what, deadline=self.deadline, missing_ok=True)
        with self._lock:
            self._deleted.append(name)


def _later(listed: str | None, pushed: str | None) -> bool:
    """Whether GitHub's ``updated_at`` is newer than the one right after our push."""
    if not listed or not pushed:
        return bool(listed) and not pushed
    return _instant(listed) > _instant(pushed)


def _instant(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def github_api(conn_id: str) -> GithubApi:
    """A session from the Airflow ``github`` connection ``conn_id``: the token in the password
    field, a GitHub Enterprise API URL in host (default ``https://api.github.com``)."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    where = f"GitHub connection '{conn_id}'"
    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        raise StoreError(f"{where} is not defined") from None
    if not conn.password:
        raise StoreError(f"{where} has no token (put it in the connection's password)")
    host = (conn.host or "").strip()
    if host and "://" not in host:
        host = f"https://{host}"
    return GithubApi(conn_id=conn_id, base_url=host or DEFAULT_BASE_URL, token=conn.password)


def open_store(block: GithubDestination, context: OpenContext) -> GithubStore:
    """The destination of one target; one API session per connection and run."""
    if context.role != "destination":
        raise StoreError(f"the github store kind cannot be a {context.role}")
    conn_id = block.connection_id or KIND.default_connection_id
    api = context.clients.get(("github", conn_id), lambda: github_api(conn_id))
    merge_store = context.merge_store() if context.merge_store is not None else None
    return GithubStore(
        api,
        block,
        owner=context.owner,
        merge_store=merge_store,
        deadline=Deadline(context.config.pipeline.sync.timeout_seconds),
    )
