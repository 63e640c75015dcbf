"""Desired vs current: the per-secret diff of one destination (SPEC §3)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from airflow_secretsync.compare import values_equal
from airflow_secretsync.stores.base import SecretWrite, StoredSecret

ChangeType = Literal["added", "modified", "removed", "unchanged"]
NON_DICT_KEY = "<value>"


@dataclass(frozen=True)
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
    #: Paths that would overwrite secrets this tool did not create.
    unowned_overwrites: list[str] = field(default_factory=list)

    def count(self, change_type: ChangeType) -> int:
        return sum(1 for c in self.changes if c.change_type == change_type)


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
    to_stored: Callable[..., Any] = lambda value, *, path=None: value,
    delete_orphans: bool = False,
) -> TargetDiff:
    """Compare desired values (converted with ``to_stored(value, path=...)``, which may raise
    for a value the destination cannot hold) against a destination's secrets.

    Secrets the tool did not create are never ``removed``; ``deletes`` is filled only when
    ``delete_orphans`` is set.
    """
    result = TargetDiff()
    for path in sorted(desired):
        value = to_stored(desired[path], path=path)
        existing = current.get(path)
        if existing is None:
            result.changes.append(Change(path, "added"))
            result.writes.append(SecretWrite(path, value))
        elif values_equal(existing.value, value):
            result.changes.append(Change(path, "unchanged"))
        else:
            added, removed, modified = key_changes(existing.value, value)
            result.changes.append(Change(path, "modified", added, removed, modified))
            result.writes.append(SecretWrite(path, value, existing))
            if not existing.managed:
                result.unowned_overwrites.append(path)
    for path in sorted(set(current) - set(desired)):
        if current[path].managed:
            result.changes.append(Change(path, "removed"))
            if delete_orphans:
                result.deletes.append(current[path])
    return result
