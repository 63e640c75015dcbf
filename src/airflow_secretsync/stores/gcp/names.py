"""Secret ids, labels and annotations of the ``gcp`` store: the name mapping rule.

Secret ids allow ``[A-Za-z0-9_-]`` only, at most 255 characters. The id of a relative path is
``prefix + mapped(path)`` where ``mapped`` turns each ``/`` into ``__`` and every other
character outside that set into ``-`` (``app/db.url`` -> ``app__db-url``). The original path is
kept in the annotation ``secretsync-path`` so listing gives back exactly the path that was
written; a secret without it (made by hand) is read as its id with ``__`` turned back into
``/``. Two paths with the same id are an error naming both, before any write.

Ownership (:mod:`..ownership`) is recorded twice: the exact owner ``<dag_id>/<target>`` and
``managed-by`` as annotations (the record that counts), and as labels (filters, IAM
conditions, the console) where the owner is lowercased, other characters outside
``[a-z0-9_-]`` become ``-``, and an owner longer than 63 characters is cut to 54 plus ``-`` and
8 hex digits of its SHA-256 (of the owner, never of a value).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping

from airflow_secretsync.errors import StoreError
from airflow_secretsync.stores.ownership import OWNER_KEY, owner_from_labels, owner_labels

MAX_ID = 255
PATH_ANNOTATION = "secretsync-path"
_INVALID_ID_CHARS = re.compile(r"[^A-Za-z0-9_-]")
_INVALID_LABEL_CHARS = re.compile(r"[^a-z0-9_-]")
_LABEL_MAX = 63


def secret_id(prefix: str, path: str) -> str:
    """The secret id of relative ``path`` (see the module docstring)."""
    return prefix + _INVALID_ID_CHARS.sub("-", path.replace("/", "__"))


def path_of(prefix: str, sid: str, annotations: Mapping[str, str]) -> str:
    """The relative path of the secret ``sid`` (which starts with ``prefix``): the recorded
    path when it maps to this very id, else the id with ``__`` read as ``/``."""
    recorded = annotations.get(PATH_ANNOTATION)
    if recorded and secret_id(prefix, recorded) == sid:
        return recorded
    return sid[len(prefix) :].replace("__", "/")


def check_ids(prefix: str, paths: Iterable[str], taken: Mapping[str, str], where: str) -> None:
    """Raise :class:`StoreError` naming both paths if two of ``paths``, or one of them and an
    existing secret (``taken``: id -> path), share an id; or if an id is too long."""
    seen = dict(taken)
    for path in paths:
        sid = secret_id(prefix, path)
        if len(sid) > MAX_ID:
            raise StoreError(
                f"{where} '{path}': the secret id would be {len(sid)} characters "
                f"(Secret Manager allows {MAX_ID}); use a shorter path or prefix"
            )
        other = seen.setdefault(sid, path)
        if other != path:
            raise StoreError(
                f"{where}: '{path}' and '{other}' map to the same secret id '{sid}' "
                "(see the gcp name mapping): rename one of them"
            )


def owner_label(owner: str) -> str:
    """``owner`` as a label value (see the module docstring)."""
    value = _INVALID_LABEL_CHARS.sub("-", owner.lower())
    if len(value) > _LABEL_MAX:
        digest = hashlib.sha256(owner.encode()).hexdigest()[:8]
        value = f"{value[:54]}-{digest}"
    return value


def ownership_marks(owner: str, path: str) -> tuple[dict[str, str], dict[str, str]]:
    """The labels and annotations a write records for ``owner`` and ``path``."""
    annotations = {**owner_labels(owner), PATH_ANNOTATION: path}
    labels = {**owner_labels(owner), OWNER_KEY: owner_label(owner)}
    return labels, annotations


def recorded_owner(annotations: Mapping[str, str]) -> str | None:
    """The owner recorded on a secret: its annotations decide (labels are only a mirror)."""
    return owner_from_labels(annotations)
