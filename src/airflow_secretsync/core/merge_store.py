"""Writing ``desired(T)`` to a merge store location (SPEC §2, §3a)."""

from __future__ import annotations

from collections.abc import Mapping

from airflow_secretsync.core.diff import TargetDiff, diff_secrets
from airflow_secretsync.errors import StoreError
from airflow_secretsync.stores.base import Deadline, MergeStore, SecretValue


def replace_merged(
    store: MergeStore,
    secrets: Mapping[str, SecretValue],
    *,
    owner: str,
    adopt: bool = False,
    max_deletions: int | None = None,
    parallel: int = 8,
    deadline: Deadline | None = None,
) -> TargetDiff:
    """Make the entries ``owner`` owns in ``store`` exactly ``secrets``: write what changed,
    delete only entries ``owner`` owns that are not in ``secrets``, never anything else.

    Refuses before any write, with a :class:`StoreError`, when it would overwrite an entry
    ``owner`` does not own (unless ``adopt``) or delete more than ``max_deletions``. Stores
    that can apply the whole diff in one request (S3: one object) do so in their ``apply``.
    Returns the diff it applied.
    """
    diff = diff_secrets(
        secrets, store.list_secrets(), owner=owner, to_stored=store.to_stored, delete_orphans=True
    )
    problems = diff.problems(adopt=adopt, max_deletions=max_deletions)
    if problems:
        raise StoreError(f"{store.description}: {'; '.join(problems)}; nothing was written")
    store.apply(diff.writes, diff.deletes, owner=owner, parallel=parallel, deadline=deadline)
    return diff
