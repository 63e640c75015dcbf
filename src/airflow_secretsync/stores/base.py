"""The one store interface that the merge and sync phases use, whatever the backend.

A store is bound to one location (a Vault mount + path, an AWS prefix, an S3 object) and
speaks in *relative paths*: the location's prefix removed. Values are JSON-like: a dict (a JSON
object), or, where the backend allows it, a plain string or ``bytes`` (AWS binary secrets).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

MANAGED_BY_KEY = "managed-by"
MANAGED_BY_VALUE = "airflow-secretsync"

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

    def to_stored(self, value: SecretValue) -> SecretValue:
        """``value`` as this store would hold it (what the diff compares). Default: as is."""
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
        from airflow_secretsync.core.compare import values_equal

        current = self.list_secrets()
        writes = [
            SecretWrite(path, value, current.get(path))
            for path, value in secrets.items()
            if path not in current or not values_equal(current[path].value, self.to_stored(value))
        ]
        stale = [s for path, s in current.items() if path not in secrets]
        self.apply(writes, stale, owner=owner)

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release clients and pools."""
