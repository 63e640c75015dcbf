"""Who owns a secret (SPEC §3a): the one rule every store kind and the diff use.

A store records ownership as string labels on each secret (Vault ``custom_metadata``, AWS tags,
the S3 merge store's object; GCP labels, Kubernetes labels... the same way):
``managed-by=airflow-secretsync`` plus ``secretsync-owner=<dag_id>/<target>``. Relative to the
target that reads it, a secret is:

- ``own``: owned by this very target of this pipeline;
- ``foreign``: owned by another target or pipeline;
- ``legacy``: marked ``managed-by`` without an owner (written by an earlier version);
- ``unmanaged``: not created by this tool.

Only ``own`` secrets are ever deleted or overwritten without ``adopt: true``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

MANAGED_BY_KEY = "managed-by"
MANAGED_BY_VALUE = "airflow-secretsync"
OWNER_KEY = "secretsync-owner"
#: Written by earlier versions next to ``managed-by``; removed when a secret is claimed.
LEGACY_TARGET_KEY = "secretsync-target"
#: The owner of a ``legacy`` secret: marked managed, no owner recorded.
NO_OWNER = ""

Ownership = Literal["own", "foreign", "legacy", "unmanaged"]


def owner_id(pipeline: str, target: str) -> str:
    """The owner recorded for ``target`` of the pipeline whose DAG id is ``pipeline``."""
    return f"{pipeline}/{target}"


def owner_labels(owner: str) -> dict[str, str]:
    """The labels a write records (a store may add its own, e.g. the user's AWS tags)."""
    return {MANAGED_BY_KEY: MANAGED_BY_VALUE, OWNER_KEY: owner}


def owner_from_labels(labels: Mapping[str, Any] | None) -> str | None:
    """The owner recorded in ``labels``: None if not created by this tool, :data:`NO_OWNER`
    for a legacy secret."""
    labels = labels or {}
    if labels.get(MANAGED_BY_KEY) != MANAGED_BY_VALUE:
        return None
    owner = labels.get(OWNER_KEY)
    return owner if isinstance(owner, str) and owner else NO_OWNER


def ownership(recorded: str | None, owner: str) -> Ownership:
    """How a secret whose recorded owner is ``recorded`` relates to ``owner``."""
    if recorded is None:
        return "unmanaged"
    if recorded == NO_OWNER:
        return "legacy"
    return "own" if recorded == owner else "foreign"
