"""Desired vs current: the per-secret diff of one destination (SPEC §3)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from airflow_secretsync.compare import values_equal
from airflow_secretsync.errors import StoreError
from airflow_secretsync.stores.base import SecretWrite, StoredSecret
from airflow_secretsync.stores.ownership import ownership

ChangeType = Literal["added", "modified", "removed", "unchanged"]
NON_DICT_KEY = "<value>"
#: ``keys_modified`` of a secret whose destination cannot tell whether it changed (write-only).
UNKNOWN_KEY = "<unknown: write-only>"


@dataclass(frozen=True, slots=True)
class Change:
    """One secret's change, by name only."""

    path: str
    change_type: ChangeType
    keys_added: tuple[str, ...] = ()
    keys_removed: tuple[str, ...] = ()
    keys_modified: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "change_type": self.change_type,
            "keys_added": list(self.keys_added),
            "keys_removed": list(self.keys_removed),
            "keys_modified": list(self.keys_modified),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Change:
        return cls(
            path=data["path"],
            change_type=data["change_type"],
            keys_added=tuple(data.get("keys_added", ())),
            keys_removed=tuple(data.get("keys_removed", ())),
            keys_modified=tuple(data.get("keys_modified", ())),
        )


@dataclass
class TargetDiff:
    """Everything a sync decides before its first write."""

    changes: list[Change] = field(default_factory=list)
    writes: list[SecretWrite] = field(default_factory=list)
    deletes: list[StoredSecret] = field(default_factory=list)
    #: Secrets the writes would overwrite that this target does not own.
    foreign_overwrites: list[StoredSecret] = field(default_factory=list)
    owner: str = ""

    def count(self, change_type: ChangeType) -> int:
        return sum(1 for c in self.changes if c.change_type == change_type)

    def problems(self, *, adopt: bool, max_deletions: int | None) -> list[str]:
        """Why these changes must not be applied (empty: they may): overwriting secrets the
        target does not own without ``adopt``, or more deletions than ``max_deletions``."""
        problems = []
        if not adopt:
            by_kind: dict[str, list[str]] = {}
            for secret in self.foreign_overwrites:
                kind = ownership(secret.owner, self.owner)
                label = (
                    f"{secret.path} owned by {secret.owner}" if kind == "foreign" else secret.path
                )
                by_kind.setdefault(kind, []).append(label)
            problems += [
                f"would overwrite secrets {FOREIGN_KINDS[kind]} ({', '.join(paths)})"
                for kind, paths in sorted(by_kind.items(), key=lambda kv: ORDER.index(kv[0]))
            ]
            if problems:
                problems[-1] += "; set 'adopt: true' on the target to allow it"
        if max_deletions is not None and len(self.deletes) > max_deletions:
            problems.append(
                f"would delete {len(self.deletes)} secrets, more than max_deletions={max_deletions}"
            )
        return problems


FOREIGN_KINDS = {
    "unmanaged": "not created by airflow-secretsync",
    "foreign": "of another target or pipeline",
    "legacy": "created by an earlier version of airflow-secretsync without an owner",
}
ORDER = list(FOREIGN_KINDS)


def key_changes(current: Any, desired: Any) -> tuple[tuple[str, ...], ...]:
    """Key names added, removed and modified between two values of one secret."""
    if not (isinstance(current, dict) and isinstance(desired, dict)):
        return (), (), (NON_DICT_KEY,)
    added = tuple(sorted(k for k in desired if k not in current))
    removed = tuple(sorted(k for k in current if k not in desired))
    modified = tuple(
        sorted(k for k in desired if k in current and not values_equal(current[k], desired[k]))
    )
    return added, removed, modified


def diff_secrets(
    desired: Mapping[str, Any],
    current: Mapping[str, StoredSecret],
    *,
    owner: str,
    to_stored: Callable[..., Any] = lambda value, *, path=None: value,
    delete_orphans: bool = False,
    name_of: Callable[[str], str] | None = None,
    same: Callable[[str, Any, StoredSecret], bool | None] | None = None,
) -> TargetDiff:
    """Compare desired values (converted with ``to_stored(value, path=...)``, which may raise
    for a value the destination cannot hold) against a destination's secrets.

    ``current`` is keyed by ``name_of(path)`` (default: the path itself), the name a desired path
    has in the destination; two desired paths with one name are a :class:`StoreError` naming both,
    raised before anything is written. ``same(path, value, existing)`` decides "unchanged"
    (default: the values compare equal); ``None`` means the destination cannot tell (write-only):
    the secret is written and reported modified with ``keys_modified`` :data:`UNKNOWN_KEY`.

    Only secrets ``owner`` owns are ``removed`` (the others are foreign, see
    :mod:`~airflow_secretsync.stores.ownership`); ``deletes`` is filled only when
    ``delete_orphans`` is set. Writes over secrets ``owner`` does not own are listed in
    ``foreign_overwrites``.
    """
    names = _names(desired, name_of)
    result = TargetDiff(owner=owner)
    for path in sorted(desired):
        value = to_stored(desired[path], path=path)
        existing = current.get(names[path])
        verdict = (
            None
            if existing is None
            else same(path, value, existing)
            if same is not None
            else values_equal(existing.value, value)
        )
        if existing is None:
            result.changes.append(Change(path, "added"))
            result.writes.append(SecretWrite(path, value))
        elif verdict:
            result.changes.append(Change(path, "unchanged"))
        else:
            added, removed, modified = (
                ((), (), (UNKNOWN_KEY,)) if verdict is None else key_changes(existing.value, value)
            )
            result.changes.append(Change(path, "modified", added, removed, modified))
            result.writes.append(SecretWrite(path, value, existing))
            if ownership(existing.owner, owner) != "own":
                result.foreign_overwrites.append(existing)
    wanted = set(names.values())
    for name in sorted(set(current) - wanted):
        if ownership(current[name].owner, owner) == "own":
            path = name if name_of is None else current[name].path
            result.changes.append(Change(path, "removed"))
            if delete_orphans:
                result.deletes.append(current[name])
    return result


def _names(desired: Mapping[str, Any], name_of: Callable[[str], str] | None) -> dict[str, str]:
    """Each desired path's name in the destination; :class:`StoreError` on a collision."""
    if name_of is None:
        return {path: path for path in desired}
    names: dict[str, str] = {}
    taken: dict[str, str] = {}
    for path in sorted(desired):
        name = names[path] = name_of(path)
        if name in taken:
            raise StoreError(
                f"'{taken[name]}' and '{path}' both map to the destination name '{name}'; "
                "rename one of them (nothing was written)"
            )
        taken[name] = path
    return names
