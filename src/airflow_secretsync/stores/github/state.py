"""The GitHub part of a target's state record in the merge store (SPEC §9).

GitHub never returns a secret's value, so what this target created and pushed is remembered in
the merge store's per-target state record, under ``github`` and then the destination
(``<api url>/repos/o/r``, ...)::

    {"github": {"https://api.github.com/repos/octo/app": {
        "APP_DB": {"path": "app/db", "version": 7, "updated_at": "2025-01-02T03:04:05Z"}}}}

A name in it was created (or adopted) by this target: it is owned. ``version`` is the
merge-store version of the value last pushed (Vault: the KV version number; S3: the object's
ETag, shared by every secret of the target) and ``updated_at`` GitHub's timestamp right after
the push. Organization secrets also keep ``visibility`` and ``repositories`` (selected ids).
Never a value or a hash of one. A name is recorded (without version) before its first write, so
ownership is never later than the value; updates are check-and-set, re-read on a conflict.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tenacity import Retrying, retry_if_exception_type, stop_after_attempt

from airflow_secretsync.errors import ConflictError
from airflow_secretsync.stores.base import MergeStore

SECTION = "github"
ATTEMPTS = 5
Entries = dict[str, dict[str, Any]]


def version_token(version: Any) -> int | str | None:
    """A merge-store version as JSON: Vault's version number, S3's ETag."""
    version = getattr(version, "number", version)
    if version is None or isinstance(version, int | str):
        return version
    return str(version)


class StateRecord:
    """This destination's entries in the target's state record (None: no merge store)."""

    def __init__(self, merge_store: MergeStore | None, destination: str) -> None:
        self.merge_store = merge_store
        self.destination = destination

    def read(self) -> Entries:
        """The names this destination created, with what was last pushed."""
        if self.merge_store is None:
            return {}
        state, _ = self.merge_store.read_state()
        return dict(((state or {}).get(SECTION) or {}).get(self.destination) or {})

    def update(self, change: Callable[[Entries], None]) -> None:
        """Apply ``change`` to the entries and store them (check-and-set, retried on conflict);
        nothing is written when ``change`` leaves them as they were."""
        if self.merge_store is None:
            return
        retrying = Retrying(
            retry=retry_if_exception_type(ConflictError),
            stop=stop_after_attempt(ATTEMPTS),
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                self._update_once(self.merge_store, change)

    def _update_once(self, store: MergeStore, change: Callable[[Entries], None]) -> None:
        state, version = store.read_state()
        state = dict(state or {})
        section = dict(state.get(SECTION) or {})
        before = dict(section.get(self.destination) or {})
        entries = {name: dict(entry) for name, entry in before.items()}
        change(entries)
        if entries == before:
            return
        if entries:
            section[self.destination] = entries
        else:
            section.pop(self.destination, None)
        state[SECTION] = section
        store.write_state(state, version)
