"""The store interfaces by role, whatever the backend (SPEC §9).

- :class:`SourceStore`: reads every secret of its scope (every kind that can be a source).
- :class:`DestinationStore`: a source that also writes and deletes, recording ownership.
- :class:`MergeStore`: holds ``desired(T)`` of one target, applies a diff to it, and keeps a
  small per-target state record (used by write-only destinations such as GitHub).

A store is bound to one location (a Vault mount + path, an AWS prefix, an S3 object) and
speaks in *relative paths*: the location's prefix removed. Values are JSON-like: a dict (a JSON
object), or, where the backend allows it, a plain string or ``bytes`` (AWS binary secrets).
A store kind declares which roles it plays in its :class:`~.registry.StoreKind`.
"""

from __future__ import annotations

import json
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar

from airflow_secretsync.compare import values_equal
from airflow_secretsync.errors import StoreError
from airflow_secretsync.stores.concurrency import bounded_map

SecretValue = Any  # dict | str | bytes (and nested JSON inside dicts)
#: Requests a store without batch reads keeps in flight (``pipeline.read_concurrency``): at
#: 20 ms of latency, 400 Vault reads take 1.32 s with 8 and 0.55 s with 32 (docs/benchmarks.md).
DEFAULT_READ_CONCURRENCY = 32


class Deadline:
    """A point in time after which no new request is started (``None``: no deadline)."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self._end = None if seconds is None else time.monotonic() + seconds

    def check(self, what: str) -> None:
        """Raise :class:`StoreError` naming ``what`` once the deadline has passed."""
        if self._end is not None and time.monotonic() > self._end:
            raise StoreError(f"{what}: gave up after the {self.seconds:g} s deadline of the target")

    def remaining(self) -> float | None:
        """Seconds left before the deadline (``None``: no deadline)."""
        return None if self._end is None else max(0.0, self._end - time.monotonic())


@dataclass(frozen=True, slots=True)
class StoredSecret:
    """One secret as read from a store.

    ``version`` is opaque to callers: it is handed back to :meth:`SecretStore.write` so the
    store can refuse a write when the secret changed after it was read (Vault check-and-set).
    """

    path: str
    value: SecretValue
    #: The recorded owner (``<dag_id>/<target>``); ``""``: managed by an earlier version
    #: without an owner; None: not created by this tool (see :mod:`.ownership`).
    owner: str | None = None
    version: Any = None

    @property
    def managed(self) -> bool:
        """Whether this tool created it (whoever owns it)."""
        return self.owner is not None

    def __repr__(self) -> str:  # never show the value
        return f"StoredSecret(path={self.path!r}, owner={self.owner!r}, version={self.version!r})"


@dataclass(frozen=True, slots=True)
class SecretWrite:
    """Create (``current is None``) or update one secret."""

    path: str
    value: SecretValue
    current: StoredSecret | None = None

    def __repr__(self) -> str:
        return f"SecretWrite(path={self.path!r}, update={self.current is not None})"


class SourceStore(ABC):
    """A location holding secrets. Implementations never put values in errors or logs."""

    #: Human-readable location used in messages, e.g. ``vault://secret/team-a``.
    description: str

    @abstractmethod
    def list_secrets(self) -> dict[str, StoredSecret]:
        """Every secret under the location, keyed by relative path, with value and ownership."""

    def version_id(self, secret: StoredSecret) -> str | None:
        """The store's id of the version of ``secret`` that was read (Vault: the version
        number, AWS: the ``VersionId``), never derived from the value; None: this store kind
        does not expose versions (plans and rollback need them)."""
        return None

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release clients and pools."""


class _Applies(SourceStore):
    """Stores that apply a diff (destinations and merge stores)."""

    def to_stored(self, value: SecretValue, *, path: str | None = None) -> SecretValue:
        """``value`` as this store would hold it (what the diff compares). Default: as is.

        ``path`` (optional) only names the secret in an error when the value cannot be stored.
        """
        return value

    def secret_name(self, path: str) -> str:
        """The name ``path`` has in this store, which keys :meth:`list_secrets` (default: the
        path itself). A store that maps names (e.g. GitHub's ``[A-Z0-9_]``) raises
        :class:`StoreError` naming the path when it has none; the diff reports collisions."""
        return path

    def same_value(self, path: str, value: SecretValue, current: StoredSecret) -> bool | None:
        """Whether ``current`` already holds ``value`` (in stored form): the diff's "unchanged".
        ``None``: this store cannot tell (write-only values), so the secret is written."""
        return values_equal(current.value, value)

    @abstractmethod
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
        """Apply writes, then (only if every write succeeded) deletes; the first error is
        raised and nothing starts after it. ``done`` receives each path that succeeded."""


class MergeStore(_Applies):
    """One target's location in the merge store."""

    @abstractmethod
    def read_state(self) -> tuple[dict[str, Any] | None, Any]:
        """The target's state record and its version (``(None, None)`` if there is none).

        The record holds names and versions only, never a value or a hash of one.
        """

    @abstractmethod
    def write_state(self, state: dict[str, Any], version: Any) -> None:
        """Replace the state record if it is still at ``version`` (None: absent), else raise
        :class:`~airflow_secretsync.errors.ConflictError`."""


class DestinationStore(_Applies):
    """A location this tool writes to: secret by secret, recording the owner."""

    @abstractmethod
    def write(self, change: SecretWrite, *, owner: str | None = None) -> str | None:
        """Create or update one secret, recording ``owner`` (``<dag_id>/<target>``, see
        :mod:`.ownership`) no later than the value. Returns the id of the version written
        (see :meth:`version_id`), None if the kind does not expose versions.

        Raises :class:`~airflow_secretsync.errors.ConflictError` if ``change.current`` is no
        longer the current version.
        """

    @abstractmethod
    def delete(self, secret: StoredSecret) -> None:
        """Delete one secret (Vault: metadata and all versions; AWS: with recovery window)."""

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
        """Apply writes, then (only if every write succeeded) deletes, up to ``parallel`` at a
        time. The first error cancels what is still queued and is raised once the requests
        already under way ended. ``done`` receives the path of each write or delete that
        succeeded, ``versions`` the version id each write created; no request starts after
        ``deadline``."""
        done = set() if done is None else done
        written = {} if versions is None else versions

        def write(change: SecretWrite) -> None:
            written[change.path] = self.write(change, owner=owner)

        self._run_all(((w.path, partial(write, w)) for w in writes), parallel, done, deadline)
        deleting = ((s.path, partial(self.delete, s)) for s in deletes)
        self._run_all(deleting, parallel, done, deadline)

    def _run_all(
        self,
        calls: Iterable[tuple[str, Callable[[], object]]],
        parallel: int,
        done: set[str],
        deadline: Deadline | None,
    ) -> None:
        """Run ``calls`` (made lazily, a few per worker queued: memory does not grow with
        their number) until the first error, which is raised once the calls under way ended."""
        stop = threading.Event()  # set by the first error: no request starts after it

        def run(item: tuple[str, Callable[[], object]]) -> None:
            path, call = item
            if stop.is_set():
                return
            try:
                if deadline is not None:
                    deadline.check(f"{self.description} '{path}'")
                call()
            except BaseException:
                stop.set()
                raise
            done.add(path)

        workers = max(1, parallel)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for _ in bounded_map(pool, run, calls, workers):
                pass

    # -- rollback (optional: Vault and AWS implement it) --------------------------------------

    #: Whether this kind implements the four methods below (a rollback refuses the target
    #: whole, before any request, otherwise).
    supports_rollback: ClassVar[bool] = False

    def current_version(self, path: str) -> tuple[str | None, str | None]:
        """The current version id of ``path`` and its recorded owner; ``(None, None)`` when it
        does not exist (or is deleted / pending deletion)."""
        raise self._no_rollback()

    def restore_version(self, path: str, version: str, *, expected: str) -> str:
        """Make the value of ``version`` current again, only if ``expected`` is still the
        current version (a :class:`~airflow_secretsync.errors.ConflictError` otherwise);
        returns the id of the version that is now current."""
        raise self._no_rollback()

    def delete_version(self, path: str, *, expected: str, owner: str) -> None:
        """Delete ``path`` only if ``expected`` is still its current version and ``owner``
        its owner (a :class:`~airflow_secretsync.errors.ConflictError` otherwise)."""
        raise self._no_rollback()

    def undelete(self, path: str, version: str, *, owner: str, check_only: bool = False) -> str:
        """Bring back ``path``, deleted at ``version``, if its data still exists and it is
        still ``owner``'s (``check_only``: only check); returns the version id now current."""
        raise self._no_rollback()

    def _no_rollback(self) -> StoreError:
        return StoreError(f"{self.description}: rollback is not supported by this store kind")


def json_object_or_text(text: str) -> SecretValue:
    """Stored text as a dict when it is a JSON object, else unchanged (how text stores that
    hold JSON objects or plain strings are read)."""
    if text.lstrip().startswith("{"):
        try:
            parsed = json.loads(text)
        except ValueError:
            return text
        if isinstance(parsed, dict):
            return parsed
    return text


def json_normalized(value: SecretValue, where: str) -> SecretValue:
    """``value`` after a JSON round trip (how JSON stores hold it); :class:`StoreError` naming
    ``where`` if it is not JSON-serializable (the message never contains the value).

    A value the round trip leaves equal is returned itself, not a copy: a sync of many secrets
    then holds each value once, however many diffs and writes refer to it.
    """
    try:
        normal = json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as exc:
        kind = type(exc).__name__
        raise StoreError(f"{where}: the value cannot be stored as JSON ({kind})") from None
    return value if normal == value else normal
