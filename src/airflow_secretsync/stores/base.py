"""The one store interface that the merge and sync phases use, whatever the backend.

A store is bound to one location (a Vault mount + path, an AWS prefix, an S3 object) and
speaks in *relative paths*: the location's prefix removed. Values are JSON-like: a dict (a JSON
object), or, where the backend allows it, a plain string or ``bytes`` (AWS binary secrets).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from airflow_secretsync.errors import StoreError

MANAGED_BY_KEY = "managed-by"
MANAGED_BY_VALUE = "airflow-secretsync"
#: Tag / custom_metadata key naming the target that last wrote a secret.
TARGET_KEY = "secretsync-target"

SecretValue = Any  # dict | str | bytes (and nested JSON inside dicts)


@dataclass(frozen=True)
class StoredSecret:
    """One secret as read from a store.

    ``version`` is opaque to callers: it is handed back to :meth:`SecretStore.write` so the
    store can refuse a write when the secret changed after it was read (Vault check-and-set).
    """

    path: str
    value: SecretValue
    managed: bool
    version: Any = None

    def __repr__(self) -> str:  # never show the value
        return f"StoredSecret(path={self.path!r}, managed={self.managed}, version={self.version!r})"


@dataclass(frozen=True)
class SecretWrite:
    """Create (``current is None``) or update one secret."""

    path: str
    value: SecretValue
    current: StoredSecret | None = None

    def __repr__(self) -> str:
        return f"SecretWrite(path={self.path!r}, update={self.current is not None})"


class SecretStore(ABC):
    """A location holding secrets. Implementations must never put values in errors or logs."""

    #: Human-readable location used in messages, e.g. ``vault://secret/team-a``.
    description: str

    @abstractmethod
    def list_secrets(self) -> dict[str, StoredSecret]:
        """Every secret under the location, keyed by relative path, with value and ownership."""

    @abstractmethod
    def write(self, change: SecretWrite, *, owner: str | None = None) -> None:
        """Create or update one secret, marking it managed by this tool.

        ``owner`` is the target name (stored as a tag where the backend supports it). Raises
        :class:`~airflow_secretsync.errors.ConflictError` if ``change.current`` is no longer
        the current version.
        """

    @abstractmethod
    def delete(self, secret: StoredSecret) -> None:
        """Delete one secret (Vault: metadata and all versions; AWS: with recovery window)."""

    def to_stored(self, value: SecretValue, *, path: str | None = None) -> SecretValue:
        """``value`` as this store would hold it (what the diff compares). Default: as is.

        ``path`` (optional) only names the secret in an error when the value cannot be stored.
        """
        return value

    def apply(
        self,
        writes: Sequence[SecretWrite],
        deletes: Sequence[StoredSecret] = (),
        *,
        owner: str | None = None,
        parallel: int = 8,
    ) -> None:
        """Apply writes then deletes, up to ``parallel`` at a time; the first error is raised."""
        with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
            for future in [pool.submit(self.write, w, owner=owner) for w in writes]:
                future.result()
            for future in [pool.submit(self.delete, s) for s in deletes]:
                future.result()

    def replace_all(self, secrets: Mapping[str, SecretValue], *, owner: str | None = None) -> None:
        """Make the location hold exactly ``secrets`` (the merge store's contract).

        Writes only what changed and removes what is no longer there. Stores that can do this
        in one request (S3: one object) override it.
        """
        from airflow_secretsync.compare import values_equal

        current = self.list_secrets()
        writes = [
            SecretWrite(path, value, current.get(path))
            for path, value in secrets.items()
            if path not in current
            or not values_equal(current[path].value, self.to_stored(value, path=path))
        ]
        stale = [s for path, s in current.items() if path not in secrets]
        self.apply(writes, stale, owner=owner)

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release clients and pools."""


def json_normalized(value: SecretValue, where: str) -> SecretValue:
    """``value`` after a JSON round trip (how JSON stores hold it); :class:`StoreError` naming
    ``where`` if it is not JSON-serializable (the message never contains the value)."""
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as exc:
        kind = type(exc).__name__
        raise StoreError(f"{where}: the value cannot be stored as JSON ({kind})") from None
