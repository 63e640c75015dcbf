"""Diff categories, key-level lists and value normalisation (SPEC §3)."""

from __future__ import annotations

import pytest

from airflow_secretsync.compare import values_equal
from airflow_secretsync.core.diff import diff_secrets
from airflow_secretsync.stores.base import StoredSecret

ME = "secretsync_p/Prod"


def stored(path: str, value: object, owner: str | None = ME) -> StoredSecret:
    return StoredSecret(path=path, value=value, owner=owner, version=1)


def test_value_comparison_rules() -> None:
    assert values_equal({"n": 1}, {"n": 1.0})
    assert values_equal({"a": 1, "b": 2}, {"b": 2, "a": 1})
    assert not values_equal({"l": [1, 2]}, {"l": [2, 1]})
    assert not values_equal({"n": "1"}, {"n": 1})
    assert not values_equal({"b": True}, {"b": 1})
    assert values_equal(b"\x00\xff", b"\x00\xff")
    assert not values_equal("abc", b"abc")


def test_every_category() -> None:
    current = {
        "same": stored("same", {"a": 1}),
        "changed": stored("changed", {"host": "a", "old": "x", "keep": 1}),
        "orphan": stored("orphan", {"a": 1}),
        "foreign": stored("foreign", {"a": 1}, owner=None),
        "sibling": stored("sibling", {"a": 1}, owner="secretsync_p/Staging"),
        "other-pipeline": stored("other-pipeline", {"a": 1}, owner="secretsync_q/Prod"),
        "legacy": stored("legacy", {"a": 1}, owner=""),
    }
    desired = {
        "same": {"a": 1.0},
        "changed": {"host": "b", "port": 5432, "keep": 1},
        "new": {"a": 1},
    }
    diff = diff_secrets(desired, current, owner=ME, delete_orphans=True)
    by_path = {c.path: c for c in diff.changes}
    assert {p: c.change_type for p, c in by_path.items()} == {
        "same": "unchanged",
        "changed": "modified",
        "new": "added",
        "orphan": "removed",
    }
    assert by_path["changed"].keys_added == ("port",)
    assert by_path["changed"].keys_removed == ("old",)
    assert by_path["changed"].keys_modified == ("host",)
    assert sorted(w.path for w in diff.writes) == ["changed", "new"]
    assert [s.path for s in diff.deletes] == ["orphan"]
    assert diff.foreign_overwrites == []


@pytest.mark.parametrize(
    ("owner", "problem"),
    [
        (None, "not created by airflow-secretsync (x)"),
        ("secretsync_p/Staging", "of another target or pipeline (x owned by secretsync_p/Staging)"),
        ("secretsync_q/Prod", "of another target or pipeline (x owned by secretsync_q/Prod)"),
        ("", "created by an earlier version of airflow-secretsync without an owner (x)"),
    ],
)
def test_secrets_not_owned_by_the_target_are_never_removed_and_overwrites_are_refused(
    owner: str | None, problem: str
) -> None:
    current = {"x": stored("x", "v1", owner=owner)}
    diff = diff_secrets({"x": "v2"}, current, owner=ME, delete_orphans=True)
    assert [s.path for s in diff.foreign_overwrites] == ["x"]
    assert diff.changes[0].keys_modified == ("<value>",)
    assert diff.problems(adopt=False, max_deletions=None) == [
        f"would overwrite secrets {problem}; set 'adopt: true' on the target to allow it"
    ]
    assert diff.problems(adopt=True, max_deletions=None) == []
    assert diff_secrets({}, current, owner=ME, delete_orphans=True).changes == []


def test_deletions_over_the_limit_are_a_problem() -> None:
    current = {p: stored(p, {"a": 1}) for p in ("a", "b")}
    diff = diff_secrets({}, current, owner=ME, delete_orphans=True)
    assert diff.problems(adopt=False, max_deletions=2) == []
    assert diff.problems(adopt=True, max_deletions=1) == [
        "would delete 2 secrets, more than max_deletions=1"
    ]


def test_orphans_counted_but_not_deleted_without_delete_orphans() -> None:
    diff = diff_secrets({}, {"orphan": stored("orphan", {"a": 1})}, owner=ME)
    assert [c.change_type for c in diff.changes] == ["removed"]
    assert diff.deletes == []


def test_to_stored_is_applied_before_comparing() -> None:
    current = {"s": stored("s", {"value": "plain"})}
    diff = diff_secrets({"s": "plain"}, current, owner=ME, to_stored=lambda v, path: {"value": v})
    assert [c.change_type for c in diff.changes] == ["unchanged"]
    assert diff.writes == []


def test_destination_names_and_write_only_verdicts() -> None:
    """A destination that maps paths to names keys its listing by name; ``same`` decides
    "unchanged" (None: cannot tell, the secret is written and marked unknown)."""
    current = {
        "APP_DB": stored("app/db", None),  # owned, unchanged by version
        "APP_KEY": stored("app/key", None),  # owned, version moved on
        "HAND": stored("HAND", None, owner=None),  # unmanaged: cannot tell
        "OLD": stored("old", None),  # owned orphan
    }
    verdicts = {"app/db": True, "app/key": False, "hand": None}
    diff = diff_secrets(
        {"app/db": "1", "app/key": "2", "hand": "3", "new": "4"},
        current,
        owner=ME,
        delete_orphans=True,
        name_of=lambda path: path.upper().replace("/", "_"),
        same=lambda path, value, existing: verdicts[path],
    )
    changes = {c.path: (c.change_type, c.keys_modified) for c in diff.changes}
    assert changes == {
        "app/db": ("unchanged", ()),
        "app/key": ("modified", ("<value>",)),
        "hand": ("modified", ("<unknown: write-only>",)),
        "new": ("added", ()),
        "old": ("removed", ()),
    }
    assert [w.path for w in diff.writes] == ["app/key", "hand", "new"]
    assert [s.path for s in diff.foreign_overwrites] == ["HAND"]
    assert [s.path for s in diff.deletes] == ["old"]


def test_two_paths_with_one_destination_name_are_an_error() -> None:
    from airflow_secretsync.errors import StoreError

    with pytest.raises(StoreError, match="'a-b' and 'a/b' both map to the destination name 'A_B'"):
        diff_secrets(
            {"a/b": 1, "a-b": 2},
            {},
            owner=ME,
            name_of=lambda p: p.upper().replace("/", "_").replace("-", "_"),
        )
