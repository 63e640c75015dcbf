"""Diff categories, key-level lists and value normalisation (SPEC §3)."""

from __future__ import annotations

from airflow_secretsync.compare import values_equal
from airflow_secretsync.core.diff import diff_secrets
from airflow_secretsync.stores.base import StoredSecret


def stored(path: str, value: object, managed: bool = True) -> StoredSecret:
    return StoredSecret(path=path, value=value, managed=managed, version=1)


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
        "foreign": stored("foreign", {"a": 1}, managed=False),
    }
    desired = {
        "same": {"a": 1.0},
        "changed": {"host": "b", "port": 5432, "keep": 1},
        "new": {"a": 1},
    }
    diff = diff_secrets(desired, current, delete_orphans=True)
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
    assert diff.unowned_overwrites == []


def test_unmanaged_secrets_are_never_removed_and_overwrites_are_flagged() -> None:
    current = {"foreign": stored("foreign", "v1", managed=False)}
    diff = diff_secrets({"foreign": "v2"}, current, delete_orphans=True)
    assert diff.unowned_overwrites == ["foreign"]
    assert diff.changes[0].keys_modified == ("<value>",)
    assert diff_secrets({}, current, delete_orphans=True).changes == []


def test_orphans_counted_but_not_deleted_without_delete_orphans() -> None:
    diff = diff_secrets({}, {"orphan": stored("orphan", {"a": 1})})
    assert [c.change_type for c in diff.changes] == ["removed"]
    assert diff.deletes == []


def test_to_stored_is_applied_before_comparing() -> None:
    current = {"s": stored("s", {"value": "plain"})}
    diff = diff_secrets({"s": "plain"}, current, to_stored=lambda v, path: {"value": v})
    assert [c.change_type for c in diff.changes] == ["unchanged"]
    assert diff.writes == []
